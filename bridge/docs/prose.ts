/**
 * The guide's prose: one Markdown file per section in `prose/`, read on first use (never at import)
 * and cached, its placeholders filled by a tiny template, and parsed into the blocks the PDF and
 * OpenAPI render.
 *
 * The Markdown understood, block by block (blank lines separate blocks):
 * - `# Title` on the first line: the section's title;
 * - a paragraph: a text block (lines are joined with a space; `inline code` in backticks);
 * - `- item` lines: a list; `1. item` lines: numbered steps (a line starting otherwise continues the item);
 * - a fenced block (```` ``` ````): a code block, kept verbatim;
 * - `<!-- request <operationId>: <title> -->`: an endpoint's example request as curl (`<operationId>
 *   without-body` leaves its optional body out); `<!-- endpoint-index -->` and `<!-- errors -->`: the
 *   tables of every endpoint and every error code; `<!-- insert <name> -->`: a block the section's
 *   code provides (a table built from the MQTT contract, say).
 *
 * Placeholders, filled after parsing: `{{name}}` is the value of `name`; `{{#if name}}A{{else}}B{{/if}}`
 * is A when the value is neither 0 nor empty, else B (`{{else}}B` may be left out). A name without a
 * value is an error, so a typo never reaches a reader.
 */
import { readFileSync } from 'node:fs';
import type { Block, Section } from './guide.js';

/** Deployment values and generated examples a section's placeholders name. */
export type ProseValues = Record<string, string | number>;

const texts = new Map<string, string>();

/** The Markdown of `prose/<name>.md`, read once, on first use. */
function markdown(name: string): string {
  let text = texts.get(name);
  if (text === undefined) {
    text = readFileSync(new URL(`./prose/${name}.md`, import.meta.url), 'utf8').replace(/\r\n/g, '\n');
    texts.set(name, text);
  }
  return text;
}

const CONDITIONAL = /\{\{#if (\w+)\}\}([\s\S]*?)(?:\{\{else\}\}([\s\S]*?))?\{\{\/if\}\}/g;
const PLACEHOLDER = /\{\{(\w+)\}\}/g;

/** Fill a template's conditionals and placeholders; values are inserted as they are, never read as template. */
export function fill(template: string, values: ProseValues, where: string): string {
  const value = (name: string): string | number => {
    const v = values[name];
    if (v === undefined) throw new Error(`${where}: no value for {{${name}}}`);
    return v;
  };
  const chosen = template.replace(CONDITIONAL, (_m, name: string, yes: string, no: string | undefined) => {
    const v = value(name);
    return v !== 0 && v !== '' ? yes : (no ?? '');
  });
  if (/\{\{(#if|else|\/if)/.test(chosen)) throw new Error(`${where}: an unclosed {{#if}}`);
  return chosen.replace(PLACEHOLDER, (_m, name: string) => String(value(name)));
}

const DIRECTIVE = /^<!-- (.+) -->$/;

function directive(text: string, inserts: Record<string, Block>, where: string): Block {
  const request = /^request (\w+)( without-body)?: (.+)$/.exec(text);
  if (request) {
    const [, endpoint, bare, title] = request as unknown as [string, string, string | undefined, string];
    return bare ? { kind: 'request', title, endpoint, withBody: false } : { kind: 'request', title, endpoint };
  }
  if (text === 'endpoint-index') return { kind: 'endpoint-index' };
  if (text === 'errors') return { kind: 'errors' };
  const insert = /^insert ([\w-]+)$/.exec(text);
  const block = insert ? inserts[insert[1] as string] : undefined;
  if (!block) throw new Error(`${where}: unknown directive <!-- ${text} -->`);
  return block;
}

/** Parse a section's Markdown into blocks, filling placeholders in every piece of text. */
export function parseSection(id: string, source: string, values: ProseValues = {}, inserts: Record<string, Block> = {}): Section {
  const where = `prose/${id}.md`;
  const lines = source.split('\n');
  const title = /^# (.+)$/.exec(lines[0] ?? '')?.[1];
  if (title === undefined) throw new Error(`${where}: the first line is not a # title`);
  const put = (text: string) => fill(text, values, where);
  const blocks: Block[] = [];
  let i = 1;
  const plain = (line: string | undefined): line is string => line !== undefined && line.trim() !== '' && !line.startsWith('```') && !DIRECTIVE.test(line);
  while (i < lines.length) {
    const line = lines[i] as string;
    if (line.trim() === '') {
      i++;
    } else if (line.startsWith('```')) {
      const end = lines.indexOf('```', i + 1);
      if (end < 0) throw new Error(`${where}: a code block is not closed`);
      blocks.push({ kind: 'code', text: put(lines.slice(i + 1, end).join('\n')) });
      i = end + 1;
    } else if (DIRECTIVE.test(line)) {
      blocks.push(directive((DIRECTIVE.exec(line) as RegExpExecArray)[1] as string, inserts, where));
      i++;
    } else {
      const run: string[] = [];
      while (plain(lines[i])) run.push(lines[i++] as string);
      const marker = /^- /.test(line) ? /^- / : /^\d+\. /.test(line) ? /^\d+\. / : undefined;
      if (!marker) {
        blocks.push({ kind: 'text', text: put(run.join(' ')) });
        continue;
      }
      const items: string[] = [];
      for (const l of run) {
        if (marker.test(l)) items.push(l.replace(marker, ''));
        else items[items.length - 1] += ` ${l.trim()}`;
      }
      blocks.push({ kind: marker.source === '^- ' ? 'list' : 'steps', items: items.map(put) });
    }
  }
  return { id, title: put(title), blocks };
}

/** The section in `prose/<id>.md`, its placeholders filled with `values`. */
export function proseSection(id: string, values: ProseValues = {}, inserts: Record<string, Block> = {}): Section {
  return parseSection(id, markdown(id), values, inserts);
}

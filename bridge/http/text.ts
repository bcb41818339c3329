/**
 * Text people read. Names, labels, messages and comments reach wallets (LUD-06 metadata, LUD-09
 * success messages), dashboards, printed stickers and webhook consumers, so they may not carry
 * characters that hide or reorder what a reader sees:
 *   - control characters: C0 (U+0000–U+001F), DEL (U+007F) and C1 (U+0080–U+009F; U+009B is a
 *     terminal's CSI, U+0085 a line break);
 *   - the bidirectional embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069; Unicode
 *     UAX #9 §2.1–2.2), which make "exe.gnp" display as "png.exe" (CVE-2021-42574, "Trojan Source").
 *     The implicit marks LRM, RLM and ALM (U+200E, U+200F, U+061C) stay allowed: right-to-left
 *     writers need them, and they reorder nothing beyond their neighbours;
 *   - the line and paragraph separators U+2028 and U+2029 in one-line text;
 *   - lone surrogates, which are not text (UTF-8 cannot encode them; JSON's `\ud800` can name one).
 * One-line text (names, labels, ids, messages) allows none of these. Multi-line text (string values
 * in free-form JSON: asset metadata, event data) may also hold tab, LF, CR and U+2028/U+2029, since
 * notes and logs have lines; everything else is refused there too.
 */
import type { z } from 'zod';

export type TextKind = 'line' | 'multiline';

const hex = (code: number) => `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;

/** Why `text` may not be shown to people, or undefined when it may. */
export function textProblem(text: string, kind: TextKind = 'line'): string | undefined {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    const at = `at character ${i + 1}`;
    if (code >= 0xd800 && code <= 0xdbff) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        i += 1;
        continue;
      }
      return `must not contain a lone surrogate (${hex(code)} ${at})`;
    }
    if (code >= 0xdc00 && code <= 0xdfff) return `must not contain a lone surrogate (${hex(code)} ${at})`;
    if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) {
      if (kind === 'multiline' && (code === 0x09 || code === 0x0a || code === 0x0d)) continue;
      return `must not contain control characters (${hex(code)} ${at})`;
    }
    if ((code >= 0x202a && code <= 0x202e) || (code >= 0x2066 && code <= 0x2069)) {
      return `must not contain bidirectional override or isolate characters (${hex(code)} ${at})`;
    }
    if ((code === 0x2028 || code === 0x2029) && kind === 'line') return `must not contain line or paragraph separators (${hex(code)} ${at})`;
  }
  return undefined;
}

/** A zod refinement: `.superRefine(displayText())` on a string schema. */
export function displayText(kind: TextKind = 'line'): (text: string, ctx: z.core.$RefinementCtx<string>) => void {
  return (text, ctx) => {
    const problem = textProblem(text, kind);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
  };
}

/**
 * The first string in a parsed JSON value that may not be shown: object keys are one-line text,
 * string values multi-line. `path` leads to it (`[]` for the value itself). Walks without recursion
 * (a hostile body can nest deep).
 */
export function jsonTextProblem(value: unknown): { path: (string | number)[]; problem: string } | undefined {
  const stack: [unknown, (string | number)[]][] = [[value, []]];
  while (stack.length > 0) {
    const [v, path] = stack.pop() as [unknown, (string | number)[]];
    if (typeof v === 'string') {
      const problem = textProblem(v, 'multiline');
      if (problem !== undefined) return { path, problem };
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push([v[i], [...path, i]]);
    } else if (typeof v === 'object' && v !== null) {
      const entries = Object.entries(v);
      for (const [k] of entries) {
        const problem = textProblem(k, 'line');
        // The key itself is not repeated: it is the text that may not be shown.
        if (problem !== undefined) return { path, problem: `keys ${problem}` };
      }
      for (let i = entries.length - 1; i >= 0; i--) {
        const [k, child] = entries[i] as [string, unknown];
        stack.push([child, [...path, k]]);
      }
    }
  }
  return undefined;
}

/** Everything multi-line text refuses: control characters (but tab, LF, CR), bidi controls, lone surrogates. */
const UNSHOWABLE =
  /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * `text` with every character multi-line text refuses written as `\u{XXXX}`: for quoting what a
 * sender got wrong (an MQTT payload in an `error` event) without passing the characters on.
 */
export function escapeUnshowable(text: string): string {
  return text.replace(UNSHOWABLE, (c) => `\\u{${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}}`);
}

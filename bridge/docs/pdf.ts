/**
 * The machine-payments API reference as a PDF, rendered with pdfkit from the catalogue in
 * `endpoints.ts` (the same one `openapi.ts` renders). Standard PDF fonts only (Helvetica, Courier),
 * so no font files ship. Every section, tag and endpoint is a bookmark (the PDF outline), and the
 * contents on the title page give each section's page. Rendered lazily, once per process and
 * settings; the bytes are cached.
 */
import PDFDocument from 'pdfkit';
import pkg from '../../package.json' with { type: 'json' };
import { curlCommand, endpointById, ENDPOINTS, errorsOf, TAGS, type AuthKind, type Endpoint, type InputDoc } from './endpoints.js';
import { ERRORS } from './errors.js';
import { guideSections, type Block, type DocsSettings } from './guide.js';
import { jsonSchemaOf } from './records.js';

type Doc = PDFKit.PDFDocument;
type Json = Record<string, unknown>;

const MARGIN = 56;
const INK = '#1b1f24';
const MUTED = '#5b6470';
const RULE = '#d0d5dc';
const CODE_BG = '#f3f5f8';
const ACCENT = '#b85c00';
const METHOD_COLOURS: Record<string, string> = { GET: '#2e7d32', POST: '#1565c0', PUT: '#e65100', PATCH: '#6a1b9a', DELETE: '#c62828' };
const STATUS_TEXT: Record<number, string> = { 200: 'OK', 201: 'Created', 202: 'Accepted' };
const AUTH_LABELS: Record<AuthKind, string> = { bearer: 'Bearer', admin: 'admin', public: 'public' };

/** The standard fonts speak WinAnsi: keep to it. */
function ansi(text: string): string {
  return text.replace(/\u2192/g, '->').replace(/\u2264/g, '<=').replace(/\u2265/g, '>=');
}

class Writer {
  readonly doc: Doc;
  readonly width: number;
  /** The open bookmark at each heading level (0: the document's outline root). */
  private readonly bookmarks: PDFKit.PDFOutline[];

  constructor(doc: Doc) {
    this.doc = doc;
    this.width = doc.page.width - 2 * MARGIN;
    this.bookmarks = [doc.outline];
  }

  /** The page being written, counted from 0 (pages are only ever added at the end while writing). */
  get pageIndex(): number {
    const range = this.doc.bufferedPageRange();
    return range.start + range.count - 1;
  }

  /** A bookmark to the current page, under the last one a level up. */
  bookmark(level: 1 | 2 | 3, title: string): void {
    const parent = this.bookmarks[level - 1] ?? this.doc.outline;
    this.bookmarks[level] = parent.addItem(ansi(title));
    this.bookmarks.length = level + 1;
  }

  get bottom(): number {
    return this.doc.page.height - MARGIN;
  }

  /** Start a new page unless `height` more points fit on this one. */
  room(height: number): void {
    if (this.doc.y + height > this.bottom) this.doc.addPage();
  }

  gap(points: number): void {
    this.doc.y += points;
  }

  heading(level: 1 | 2 | 3, text: string, destination?: string): void {
    const size = level === 1 ? 17 : level === 2 ? 13 : 10.5;
    this.room(level === 1 ? 90 : level === 2 ? 150 : 60);
    this.gap(level === 1 ? 10 : 6);
    if (destination) this.doc.addNamedDestination(destination);
    this.bookmark(level, text);
    this.doc.font('Helvetica-Bold').fontSize(size).fillColor(level === 1 ? ACCENT : INK).text(ansi(text), MARGIN, this.doc.y, { width: this.width });
    if (level === 1) {
      const y = this.doc.y + 2;
      this.doc.moveTo(MARGIN, y).lineTo(MARGIN + this.width, y).lineWidth(0.7).strokeColor(ACCENT).stroke();
      this.doc.y = y + 6;
    } else this.gap(3);
  }

  /** A paragraph; `backticked` spans are set in Courier. */
  text(text: string, options: { size?: number; indent?: number; colour?: string } = {}): void {
    const size = options.size ?? 9.5;
    const indent = options.indent ?? 0;
    const width = this.width - indent;
    const parts = ansi(text).split('`');
    const plain = parts.join('');
    this.doc.font('Helvetica').fontSize(size);
    this.room(Math.min(this.doc.heightOfString(plain, { width }), 60));
    const segments = parts.map((p, i) => ({ p, code: i % 2 === 1 })).filter((s) => s.p !== '');
    this.doc.fillColor(options.colour ?? INK);
    segments.forEach((s, i) => {
      this.doc.font(s.code ? 'Courier' : 'Helvetica').fontSize(s.code ? size - 0.5 : size);
      const opts = { width, continued: i < segments.length - 1, lineGap: 1.5 };
      if (i === 0) this.doc.text(s.p, MARGIN + indent, this.doc.y, opts);
      else this.doc.text(s.p, opts);
    });
    this.gap(5);
  }

  /** A small caption kept on the same page as the start of what follows it. */
  caption(text: string): void {
    this.room(64);
    this.text(text, { size: 8.5, colour: MUTED });
  }

  /** A monospace block on a tinted background, split across pages at line boundaries. */
  code(text: string, size = 8): void {
    const pad = 6;
    const width = this.width - 2 * pad;
    let lines = ansi(text).split('\n');
    this.doc.font('Courier').fontSize(size);
    while (lines.length > 0) {
      let n = 0;
      while (n < lines.length && this.doc.y + this.doc.heightOfString(lines.slice(0, n + 1).join('\n'), { width }) + 2 * pad <= this.bottom) n++;
      if (n === 0) {
        if (this.doc.y <= MARGIN + 1) n = 1;
        else {
          this.doc.addPage();
          continue;
        }
      }
      const chunk = lines.slice(0, n).join('\n');
      const height = this.doc.heightOfString(chunk, { width }) + 2 * pad;
      const top = this.doc.y;
      this.doc.rect(MARGIN, top, this.width, height).fill(CODE_BG);
      this.doc.rect(MARGIN, top, 2, height).fill(RULE);
      this.doc.fillColor(INK).font('Courier').fontSize(size).text(chunk, MARGIN + pad, top + pad, { width });
      this.doc.y = top + height + 6;
      lines = lines.slice(n);
      if (lines.length > 0) this.doc.addPage();
    }
  }

  /** A table; cells of `mono` columns are set in Courier; `links` give a column's cells a goTo target. */
  table(columns: { title: string; width: number; mono?: boolean }[], rows: string[][], links?: { column: number; targets: string[] }): void {
    const pad = 4;
    const size = 8.5;
    const fixed = columns.reduce((sum, c) => sum + c.width, 0);
    const widths = columns.map((c, i) => (i === columns.length - 1 ? this.width - fixed + c.width : c.width));
    const cellHeight = (cells: string[], header: boolean) =>
      Math.max(
        ...cells.map((cell, i) => {
          this.doc.font(header ? 'Helvetica-Bold' : columns[i]?.mono ? 'Courier' : 'Helvetica').fontSize(size);
          return this.doc.heightOfString(ansi(cell), { width: (widths[i] ?? 0) - 2 * pad });
        }),
      ) + 2 * pad;
    const drawRow = (cells: string[], header: boolean, shade: boolean, rowIndex: number) => {
      const height = cellHeight(cells, header);
      if (this.doc.y + height > this.bottom) {
        this.doc.addPage();
        if (!header) drawRow(columns.map((c) => c.title), true, false, -1);
      }
      const top = this.doc.y;
      if (header || shade) this.doc.rect(MARGIN, top, this.width, height).fill(header ? '#2b3440' : '#f6f7f9');
      let x = MARGIN;
      cells.forEach((cell, i) => {
        const target = !header && links && links.column === i ? links.targets[rowIndex] : undefined;
        this.doc
          .font(header ? 'Helvetica-Bold' : columns[i]?.mono ? 'Courier' : 'Helvetica')
          .fontSize(size)
          .fillColor(header ? '#ffffff' : INK)
          .text(ansi(cell), x + pad, top + pad, { width: (widths[i] ?? 0) - 2 * pad, ...(target ? { goTo: target } : {}) });
        x += widths[i] ?? 0;
      });
      this.doc.moveTo(MARGIN, top + height).lineTo(MARGIN + this.width, top + height).lineWidth(0.4).strokeColor(RULE).stroke();
      this.doc.y = top + height;
    };
    // A short table stays on one page; a long one breaks between rows, repeating its header.
    const total = [columns.map((c) => c.title), ...rows].reduce((sum, row, i) => sum + cellHeight(row, i === 0), 0);
    this.room(total <= 240 ? total : 40);
    drawRow(columns.map((c) => c.title), true, false, -1);
    rows.forEach((row, i) => drawRow(row, false, i % 2 === 1, i));
    this.doc.x = MARGIN;
    this.gap(8);
  }
}

/** A short type description of a JSON Schema property. */
function typeOf(schema: Json): string {
  if (Array.isArray(schema['enum'])) return (schema['enum'] as unknown[]).join(' | ');
  if (Array.isArray(schema['anyOf'])) return (schema['anyOf'] as Json[]).map(typeOf).join(' | ');
  if (schema['type'] === 'array') return `array of ${typeOf((schema['items'] ?? {}) as Json)}`;
  if (Array.isArray(schema['type'])) return (schema['type'] as string[]).join(' | ');
  return typeof schema['type'] === 'string' ? schema['type'] : 'any';
}

function fieldRows(input: InputDoc): string[][] {
  const schema = jsonSchemaOf(input.schema, 'input');
  const required = new Set((schema['required'] as string[] | undefined) ?? []);
  return Object.entries((schema['properties'] ?? {}) as Record<string, Json>).map(([name, prop]) => [
    name,
    typeOf(prop),
    required.has(name) ? 'yes' : 'no',
    input.fields[name] ?? '',
  ]);
}

const FIELD_COLUMNS = [
  { title: 'Field', width: 112, mono: true },
  { title: 'Type', width: 104 },
  { title: 'Required', width: 48 },
  { title: 'Description', width: 0 },
];

function endpoint(w: Writer, e: Endpoint, baseUrl: string): void {
  const { doc } = w;
  const method = e.method.toUpperCase();
  w.room(120);
  w.gap(8);
  doc.addNamedDestination(e.operationId);
  w.bookmark(3, `${method} ${e.path}`);
  const top = doc.y;
  doc.font('Helvetica-Bold').fontSize(8.5);
  const badge = doc.widthOfString(method) + 12;
  doc.roundedRect(MARGIN, top, badge, 15, 3).fill(METHOD_COLOURS[method] ?? INK);
  doc.fillColor('#ffffff').text(method, MARGIN + 6, top + 4, { lineBreak: false });
  doc.font('Courier-Bold').fontSize(11).fillColor(INK).text(e.path, MARGIN + badge + 8, top + 2, { lineBreak: false });
  doc.y = top + 20;
  w.text(e.summary, { size: 10.5 });
  const auth =
    e.auth === 'bearer'
      ? e.writes
        ? 'Bearer, full-scope key (read-only keys get 403)'
        : 'Bearer, any key'
      : e.auth === 'admin'
        ? 'Bearer, the server\u2019s admin token (not an API key)'
        : e.headers
          ? `public, signed (${Object.keys(e.headers).join(', ')} header)`
          : 'public, no key';
  const status = `${e.response.status} ${STATUS_TEXT[e.response.status] ?? ''}`.trim();
  w.text(`Auth: ${auth}   |   Success: ${status}, ${e.response.contentType}`, { size: 8.5, colour: MUTED });
  description(w, e.description);
  if (e.params) {
    w.table(
      [{ title: 'Path parameter', width: 112, mono: true }, { title: 'Description', width: 0 }],
      Object.entries(e.params).map(([name, p]) => [name, p.description]),
    );
  }
  if (e.headers) {
    w.table(
      [{ title: 'Header', width: 112, mono: true }, { title: 'Description', width: 0 }],
      Object.entries(e.headers).map(([name, h]) => [name, h.description]),
    );
  }
  if (e.query) w.table([{ ...FIELD_COLUMNS[0], title: 'Query parameter' } as (typeof FIELD_COLUMNS)[number], ...FIELD_COLUMNS.slice(1)], fieldRows(e.query));
  if (e.body) w.table(FIELD_COLUMNS, fieldRows(e.body));
  w.caption('Example request');
  w.code(curlCommand(e, baseUrl));
  if (e.response.example !== undefined) {
    w.caption(`Example response (${status})`);
    w.code(JSON.stringify(e.response.example, null, 2));
  }
  w.text(`Errors: ${errorsOf(e).join(', ') || 'none'}`, { size: 8.5, colour: MUTED });
  doc.moveTo(MARGIN, doc.y).lineTo(MARGIN + w.width, doc.y).lineWidth(0.4).strokeColor(RULE).stroke();
  w.gap(4);
}

/** A bulleted or numbered list. */
function items(w: Writer, list: string[], numbered: boolean): void {
  list.forEach((item, i) => {
    w.doc.font('Helvetica-Bold').fontSize(9.5).fillColor(ACCENT);
    w.room(14);
    w.doc.text(numbered ? `${i + 1}.` : '\u2022', MARGIN + 4, w.doc.y, { lineBreak: false });
    w.text(item, { indent: 18 });
    w.gap(-3);
  });
  w.gap(4);
}

/** An endpoint description: paragraphs split by blank lines; a paragraph of `- ` lines is a list. */
function description(w: Writer, text: string): void {
  for (const paragraph of text.split('\n\n')) {
    const lines = paragraph.split('\n');
    if (lines.every((l) => l.startsWith('- '))) items(w, lines.map((l) => l.slice(2)), false);
    else w.text(paragraph);
  }
}

function block(w: Writer, b: Block, settings: DocsSettings): void {
  switch (b.kind) {
    case 'text':
      w.text(b.text);
      return;
    case 'code':
      w.code(b.text);
      return;
    case 'list':
    case 'steps':
      items(w, b.items, b.kind === 'steps');
      return;
    case 'table':
      // Keep the header and the first rows together.
      w.room(160);
      w.table(b.columns, b.rows);
      return;
    case 'request':
      w.room(64);
      w.text(b.title, { size: 9.5 });
      w.code(curlCommand(endpointById(b.endpoint), settings.baseUrl, { withBody: b.withBody !== false }));
      return;
    case 'endpoint-index':
      w.table(
        [
          { title: 'Method', width: 48 },
          { title: 'Path', width: 206, mono: true },
          { title: 'Auth', width: 44 },
          { title: 'Summary', width: 0 },
        ],
        ENDPOINTS.map((e) => [e.method.toUpperCase(), e.path, AUTH_LABELS[e.auth], e.summary]),
        { column: 1, targets: ENDPOINTS.map((e) => e.operationId) },
      );
      for (const tag of TAGS) {
        w.heading(2, tag.name);
        w.text(tag.description, { colour: MUTED });
        for (const e of ENDPOINTS.filter((x) => x.tag === tag.name)) endpoint(w, e, settings.baseUrl);
      }
      return;
    case 'errors':
      w.table(
        [
          { title: 'Status', width: 68 },
          // Wide enough for the longest codes (22 characters) on one line.
          { title: 'Code', width: 128, mono: true },
          { title: 'Meaning', width: 0 },
        ],
        ERRORS.map((x) => [x.statuses.join(', '), x.code, x.meaning]),
      );
      return;
  }
}

/** The title page; returns where its contents go (they are written once the sections' pages are known). */
function titlePage(w: Writer, settings: DocsSettings): number {
  const { doc } = w;
  doc.rect(0, 0, doc.page.width, 8).fill(ACCENT);
  doc.y = 170;
  doc.font('Helvetica-Bold').fontSize(30).fillColor(INK).text('Paywire', MARGIN, doc.y, { width: w.width });
  doc.font('Helvetica').fontSize(16).fillColor(MUTED).text('Machine-to-machine API reference', { width: w.width });
  w.gap(18);
  doc.font('Helvetica').fontSize(10).fillColor(INK).text(`Version ${pkg.version}`, { width: w.width });
  doc.text('Base URL: ', { continued: true }).font('Courier').text(settings.baseUrl);
  w.gap(40);
  return doc.y;
}

/** The contents on the title page: each section with the page it starts on, linked to it. */
function contents(w: Writer, top: number, sections: { id: string; title: string; page: number }[]): void {
  const { doc } = w;
  doc.switchToPage(0);
  doc.font('Helvetica-Bold').fontSize(11).fillColor(INK).text('Contents', MARGIN, top);
  w.gap(4);
  const numberWidth = 30;
  for (const [i, s] of sections.entries()) {
    const y = doc.y;
    doc.font('Helvetica').fontSize(10).fillColor(INK);
    doc.text(`${i + 1}.  ${ansi(s.title)}`, MARGIN + 8, y, { goTo: s.id, width: w.width - numberWidth - 8, lineBreak: false });
    doc.text(String(s.page), MARGIN + w.width - numberWidth, y, { goTo: s.id, width: numberWidth, align: 'right', lineBreak: false });
    doc.y = y + doc.currentLineHeight(true) + 3;
  }
}

function footers(doc: Doc): void {
  const range = doc.bufferedPageRange();
  for (let i = range.start + 1; i < range.start + range.count; i++) {
    doc.switchToPage(i);
    const bottom = doc.page.margins.bottom;
    doc.page.margins.bottom = 0;
    doc
      .font('Helvetica')
      .fontSize(7.5)
      .fillColor(MUTED)
      .text(`Paywire machine-to-machine API ${pkg.version}   |   page ${i + 1} of ${range.count}`, MARGIN, doc.page.height - MARGIN + 18, {
        width: doc.page.width - 2 * MARGIN,
        align: 'center',
        lineBreak: false,
      });
    doc.page.margins.bottom = bottom;
  }
}

export function renderPdf(settings: DocsSettings): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const doc = new PDFDocument({
      size: 'A4',
      margin: MARGIN,
      bufferPages: true,
      info: { Title: 'Paywire machine-to-machine API reference', Author: 'Paywire', Subject: `API reference ${pkg.version}` },
    });
    const chunks: Buffer[] = [];
    doc.on('data', (chunk: Buffer) => chunks.push(chunk));
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
    try {
      const w = new Writer(doc);
      const sections = guideSections(settings);
      const contentsTop = titlePage(w, settings);
      doc.addPage();
      const pages: number[] = [];
      for (const section of sections) {
        w.heading(1, section.title, section.id);
        // The heading may have started a new page: it is on the current one now. Pages count from 1.
        pages.push(w.pageIndex + 1);
        for (const b of section.blocks) block(w, b, settings);
      }
      contents(w, contentsTop, sections.map((s, i) => ({ id: s.id, title: s.title, page: pages[i] as number })));
      footers(doc);
      doc.end();
    } catch (err) {
      reject(err);
    }
  });
}

const rendered = new Map<string, Promise<Buffer>>();

/** The PDF for these settings, rendered on first use and cached for the life of the process. */
export function docsPdf(settings: DocsSettings): Promise<Buffer> {
  const key = JSON.stringify(settings);
  let pdf = rendered.get(key);
  if (!pdf) {
    pdf = renderPdf(settings);
    rendered.set(key, pdf);
    pdf.catch(() => rendered.delete(key));
  }
  return pdf;
}

/**
 * Sending hostile HTTP requests to a bridge and reading whatever comes back, for the malformed-input
 * tests: by `fetch` for requests a client library can make, and over a raw socket for bytes no
 * library would send (bad request lines, torn bodies, lying lengths). Every outcome is kept — an
 * answer, a connection closed without one, or no answer within `REQUEST_TIMEOUT_MS` (a hang) — so
 * a test can say what went wrong for each case.
 */
import { connect } from 'node:net';

export type Send =
  | {
      via: 'fetch';
      method: string;
      path: string;
      /** JSON-encoded, sent as application/json. */
      json?: unknown;
      /** Sent as-is, as application/json unless `headers` name a content-type or `noContentType`. */
      raw?: string | Uint8Array;
      noContentType?: boolean;
      token?: string;
      headers?: Record<string, string>;
    }
  | { via: 'socket'; bytes: string | Buffer; halfClose?: boolean };

/** What a case needs of an endpoint to send it a body. */
export interface BodyTarget<F> {
  method: string;
  path: (fx: F) => string;
  token?: (fx: F) => string;
}

/** A `fetch` send of `body` (JSON-encoded, or raw text/bytes) to the endpoint, with its token. */
export function bodySend<F>(
  ep: BodyTarget<F>,
  fx: F,
  body: { json: unknown } | { raw: string | Uint8Array },
  headers?: Record<string, string>,
  noContentType = false,
): Send {
  const send: Send = { via: 'fetch', method: ep.method, path: ep.path(fx) };
  if ('json' in body) send.json = body.json;
  else send.raw = body.raw;
  if (ep.token) send.token = ep.token(fx);
  if (headers) send.headers = headers;
  if (noContentType) send.noContentType = true;
  return send;
}

/** The endpoint's valid body with a `__proto__` member first. */
export function withProto(valid: Record<string, unknown>): string {
  const rest = JSON.stringify(valid).slice(1);
  const proto = '"__proto__":{"pwned_by_malformed_test":true}';
  return rest === '}' ? `{${proto}}` : `{${proto},${rest}`;
}

/** `v` with single instead of double quotes (a made-up member when `v` has no strings). */
export const singleQuoted = (v: string): string => (v.includes('"') ? v.replaceAll('"', "'") : "{'x':'y'}");

/** How long a case may go unanswered before it counts as a hang. */
export const REQUEST_TIMEOUT_MS = 5_000;

export interface Answer {
  status: number;
  headers: Record<string, string>;
  text: string;
}
export type Outcome = { kind: 'answer'; answer: Answer } | { kind: 'closed'; detail: string } | { kind: 'timeout' };

export async function sendFetch(base: string, s: Extract<Send, { via: 'fetch' }>): Promise<Outcome> {
  const headers: Record<string, string> = {};
  let body: string | Uint8Array | undefined;
  if (s.json !== undefined) body = JSON.stringify(s.json);
  else if (s.raw !== undefined) body = s.raw;
  if (body !== undefined && !s.noContentType) headers['content-type'] = 'application/json';
  if (s.token !== undefined) headers['authorization'] = `Bearer ${s.token}`;
  Object.assign(headers, s.headers);
  try {
    const res = await fetch(`${base}${s.path}`, { method: s.method, headers, body: body ?? null, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    const text = await res.text();
    return { kind: 'answer', answer: { status: res.status, headers: Object.fromEntries(res.headers), text } };
  } catch (err) {
    if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) return { kind: 'timeout' };
    const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : '';
    return { kind: 'closed', detail: `${err instanceof Error ? err.message : String(err)}${cause}` };
  }
}

/** Parse one HTTP/1.1 response (skipping 1xx) from `buf`; undefined while incomplete. */
function parseResponse(buf: Buffer, atEnd: boolean): Answer | undefined {
  let start = 0;
  for (;;) {
    const headEnd = buf.indexOf('\r\n\r\n', start);
    if (headEnd < 0) return undefined;
    const lines = buf.subarray(start, headEnd).toString('latin1').split('\r\n');
    const match = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
    if (!match) return undefined;
    const status = Number(match[1]);
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const bodyStart = headEnd + 4;
    if (status >= 100 && status < 200) {
      start = bodyStart;
      continue;
    }
    const length = headers['content-length'];
    if (length !== undefined) {
      const n = Number(length);
      if (buf.length - bodyStart < n) return undefined;
      return { status, headers, text: buf.subarray(bodyStart, bodyStart + n).toString('utf8') };
    }
    if ((headers['transfer-encoding'] ?? '').toLowerCase().includes('chunked')) {
      const parts: Buffer[] = [];
      let at = bodyStart;
      for (;;) {
        const eol = buf.indexOf('\r\n', at);
        if (eol < 0) return atEnd ? { status, headers, text: Buffer.concat(parts).toString('utf8') } : undefined;
        const size = parseInt(buf.subarray(at, eol).toString('latin1'), 16);
        if (size === 0 || Number.isNaN(size)) return { status, headers, text: Buffer.concat(parts).toString('utf8') };
        if (buf.length < eol + 2 + size) return atEnd ? { status, headers, text: Buffer.concat(parts).toString('utf8') } : undefined;
        parts.push(buf.subarray(eol + 2, eol + 2 + size));
        at = eol + 2 + size + 2;
      }
    }
    return atEnd ? { status, headers, text: buf.subarray(bodyStart).toString('utf8') } : undefined;
  }
}

export function sendSocket(port: number, s: Extract<Send, { via: 'socket' }>): Promise<Outcome> {
  const payload = typeof s.bytes === 'string' ? Buffer.from(s.bytes, 'latin1') : s.bytes;
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const received: Buffer[] = [];
    let settled = false;
    let socketError = '';
    const finish = (outcome: Outcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => finish({ kind: 'timeout' }), REQUEST_TIMEOUT_MS);
    const attempt = (atEnd: boolean) => {
      const answer = parseResponse(Buffer.concat(received), atEnd);
      if (answer) finish({ kind: 'answer', answer });
      else if (atEnd) {
        const got = Buffer.concat(received).toString('latin1').slice(0, 200);
        finish({ kind: 'closed', detail: got ? `unparseable answer ${JSON.stringify(got)}` : `no bytes before close${socketError}` });
      }
    };
    socket.on('data', (chunk: Buffer) => {
      received.push(chunk);
      attempt(false);
    });
    socket.on('error', (err) => {
      socketError = ` (${err.message})`;
    });
    socket.on('close', () => attempt(true));
    socket.once('connect', () => {
      void (async () => {
        const piece = 64 * 1024;
        for (let at = 0; at < payload.length && !settled && received.length === 0; at += piece) {
          if (!socket.write(payload.subarray(at, at + piece))) {
            await new Promise<void>((done) => {
              const go = () => {
                socket.off('drain', go);
                socket.off('close', go);
                done();
              };
              socket.on('drain', go);
              socket.on('close', go);
            });
          }
        }
        if (s.halfClose && !settled && !socket.destroyed) socket.end();
      })();
    });
  });
}

export function describeOutcome(outcome: Outcome | undefined): string {
  if (!outcome) return 'not run';
  if (outcome.kind !== 'answer') return outcome.kind === 'timeout' ? 'timeout' : `closed: ${outcome.detail}`;
  const { status, headers, text } = outcome.answer;
  return `${status} ${headers['content-type'] ?? '(no content-type)'} ${text.slice(0, 300)}`;
}

/** Run `work` over `items`, at most `limit` at a time. */
export async function pool<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

// ---------------------------------------------------------------------------------------------
// Tables shared by the malformed-input tests
// ---------------------------------------------------------------------------------------------

export const BOM = '\uFEFF';
/** The bridge's default request body limit (BODY_LIMIT_BYTES). */
export const LIMIT = 65_536;
export const MIB = 1024 * 1024;
export const HEX64 = 'ab'.repeat(32);
/** A well-formed API key no account has. */
export const UNKNOWN_KEY = `lib_${'0123456789abcdef'.repeat(4)}`;
/** A well-formed id nothing has. */
export const UNKNOWN_ID = 'zzzzzzzzzzzzzzz';

/** `depth` nested objects `{"a":{"a":…1…}}`. */
export const deepObject = (depth: number): string => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
/** `depth` nested arrays `[[[…]]]`. */
export const deepArray = (depth: number): string => `${'['.repeat(depth)}${']'.repeat(depth)}`;
/** A JSON object of exactly `bytes` bytes: `{"label":"xxx…"}`. */
export const sized = (bytes: number): string => `{"label":"${'x'.repeat(bytes - 12)}"}`;
export const b64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A request head for a raw socket, `Connection: close`. */
export function rawHead(method: string, path: string, headers: Record<string, string | number>): string {
  const lines = [`${method} ${path} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close'];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** `body` in HTTP/1.1 chunked transfer coding. */
export function chunked(body: Buffer, chunkSize = 16_384): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < body.length; i += chunkSize) {
    const piece = body.subarray(i, i + chunkSize);
    parts.push(Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from('0\r\n\r\n'));
  return Buffer.concat(parts);
}

/** Raw JSON text with a syntax error (given a valid body's text): the parser refuses it (invalid_json). */
export const SYNTAX_ERRORS: [string, (valid: string) => string][] = [
  ['truncated object', (v) => v.slice(0, Math.max(1, v.length - 3))],
  ['lone open brace', () => '{'],
  ['trailing comma', (v) => v.replace(/}$/, ',}')],
  ['trailing comma in array', () => '{"a":[1,2,]}'],
  ['single quotes', (v) => singleQuoted(v)],
  ['unquoted key', () => '{label:"x"}'],
  ['NaN', () => '{"price_sats":NaN}'],
  ['Infinity', () => '{"price_sats":Infinity}'],
  ['-Infinity', () => '{"price_sats":-Infinity}'],
  ['hex number', () => '{"price_sats":0x10}'],
  ['leading zero', () => '{"price_sats":012}'],
  ['leading plus', () => '{"price_sats":+1}'],
  ['bare fraction', () => '{"price_sats":.5}'],
  ['block comment', (v) => `/* note */${v}`],
  ['line comment inside', (v) => v.replace(/}$/, '// note\n}')],
  ['top-level number', () => '42'],
  ['top-level negative number', () => '-1'],
  ['top-level null', () => 'null'],
  ['top-level true', () => 'true'],
  ['top-level string', () => '"hello"'],
  ['top-level empty string', () => '""'],
  ['whitespace only', () => '   \n\t '],
  ['two objects', (v) => `${v}${v}`],
  ['unterminated string', () => '{"label":"abc}'],
  ['raw control character in string', () => '{"label":"a\u0001b"}'],
  ['raw newline in string', () => '{"label":"a\nb"}'],
  ['bad escape', () => '{"label":"\\x41"}'],
  ['short unicode escape', () => '{"label":"\\u12"}'],
  ['missing colon', () => '{"label" "x"}'],
  ['double colon', () => '{"label"::"x"}'],
  ['mismatched brackets', () => '[}'],
  ['unbalanced deep arrays (20,000 open)', () => '['.repeat(20_000)],
  ['double BOM', (v) => `${BOM}${BOM}${v}`],
  ['BOM then single quotes', (v) => `${BOM}${singleQuoted(v)}`],
  ['undefined literal', () => '{"label":undefined}'],
  ['JS object with function', () => '{"label":(function(){return 1})()}'],
];

/** Content types that are not JSON in UTF-8: 415. */
export const WRONG_CONTENT_TYPES: [string, string][] = [
  ['text/plain', 'text/plain'],
  ['form-urlencoded', 'application/x-www-form-urlencoded'],
  ['multipart', 'multipart/form-data; boundary=----x'],
  ['application/xml', 'application/xml'],
  ['text/json', 'text/json'],
  ['application/javascript', 'application/javascript'],
  ['application/octet-stream', 'application/octet-stream'],
  ['JSON in Latin-1', 'application/json; charset=iso-8859-1'],
  ['JSON in UTF-16', 'application/json; charset=utf-16'],
  ['malformed type', '/////'],
];
/** Content encodings the bridge does not decode: 415. */
export const WRONG_CONTENT_ENCODINGS = ['compress', 'x-gzip', 'bogus', 'gzip, br'];

/** Bytes that are not UTF-8, for a string inside a JSON body (RFC 8259 §8.1). */
export const INVALID_UTF8: [string, number[]][] = [
  ['0xFF 0xFE', [0xff, 0xfe]],
  ['truncated 2-byte sequence', [0xc3]],
  ['overlong encoding of /', [0xc0, 0xaf]],
  ['UTF-8 encoded surrogate', [0xed, 0xa0, 0x80]],
];

/** Cases sent in batches of this many, with this many in flight. */
const BATCH = 50;
const CONCURRENCY = 8;

/**
 * Send every case to the bridge at `url` (raw ones to `httpPort`) and keep each outcome by name:
 * BATCH at a time, CONCURRENCY in flight, with a normal request (`healthCheck`) before the first
 * batch, racing each batch and after it, so a case that hurts the server shows up at once.
 */
export async function sendInBatches<F>(
  cases: readonly { name: string; send: (fx: F) => Send }[],
  fx: F,
  target: { url: string; httpPort: number },
  healthCheck: (when: string) => Promise<void>,
  results: Map<string, Outcome>,
): Promise<void> {
  await healthCheck('before the first case');
  for (let i = 0; i < cases.length; i += BATCH) {
    const batch = cases.slice(i, i + BATCH);
    const racing = healthCheck(`during cases ${i + 1}-${i + batch.length}`);
    await pool(batch, CONCURRENCY, async (c) => {
      const s = c.send(fx);
      results.set(c.name, s.via === 'fetch' ? await sendFetch(target.url, s) : await sendSocket(target.httpPort, s));
    });
    await racing;
    await healthCheck(`after case ${i + batch.length}`);
  }
}

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

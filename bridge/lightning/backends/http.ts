/**
 * The HTTP client the backends share: JSON in and out, a hard timeout, an optional CA for nodes with
 * self-signed certificates (LND), and a line-delimited JSON stream reader (LND's invoice
 * subscription). Every failure becomes a BackendError that names the backend.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { BackendError } from './backend.js';
import type { BackendKind } from '../types.js';

export interface HttpOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
  headers?: Record<string, string>;
  /** Sent as JSON. */
  json?: unknown;
  timeoutMs: number;
  /** PEM certificate(s) to trust, for a self-signed node. */
  ca?: string | undefined;
}

export interface HttpResult<T> {
  status: number;
  body: T;
}

const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

function open(
  backend: BackendKind,
  url: string,
  options: HttpOptions,
  onResponse: (res: IncomingMessage) => void,
  onError: (err: unknown) => void,
): () => void {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    throw new BackendError(backend, `invalid URL ${JSON.stringify(url)}`, { transient: false });
  }
  const payload = options.json === undefined ? undefined : Buffer.from(JSON.stringify(options.json));
  const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
  if (payload) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = String(payload.length);
  }
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  const req = send(target, { method: options.method ?? 'GET', headers, ...(options.ca ? { ca: options.ca } : {}) }, onResponse);
  req.on('error', onError);
  req.setTimeout(options.timeoutMs, () => req.destroy(new BackendError(backend, `timed out after ${options.timeoutMs} ms (${target.host})`)));
  req.end(payload);
  return () => req.destroy();
}

/** One JSON request. Resolves with any HTTP status; the caller judges it. */
export function httpJson<T = unknown>(backend: BackendKind, url: string, options: HttpOptions): Promise<HttpResult<T>> {
  return new Promise<HttpResult<T>>((resolve, reject) => {
    let settled = false;
    const fail = (err: unknown) => {
      if (settled) return;
      settled = true;
      reject(err instanceof BackendError ? err : new BackendError(backend, describe(err), { cause: err }));
    };
    let abort: () => void = () => undefined;
    const onResponse = (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_RESPONSE_BYTES) {
          fail(new BackendError(backend, 'response too large'));
          abort();
        } else chunks.push(chunk);
      });
      res.on('error', fail);
      res.on('end', () => {
        if (settled) return;
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown;
        if (text.trim() !== '') {
          try {
            body = JSON.parse(text);
          } catch {
            fail(new BackendError(backend, `answered HTTP ${res.statusCode} with a body that is not JSON`));
            return;
          }
        }
        settled = true;
        resolve({ status: res.statusCode ?? 0, body: body as T });
      });
    };
    try {
      abort = open(backend, url, options, onResponse, fail);
    } catch (err) {
      fail(err);
    }
  });
}

/**
 * Read a stream of JSON lines until `stop()` or the server ends it. Lines that are not JSON are
 * skipped. `done` settles when the stream ends (rejects on connection errors).
 */
export function streamJsonLines(
  backend: BackendKind,
  url: string,
  options: Omit<HttpOptions, 'timeoutMs' | 'json'> & { connectTimeoutMs: number },
  onLine: (value: unknown) => void,
): { stop: () => void; done: Promise<void> } {
  let stop: () => void = () => undefined;
  const done = new Promise<void>((resolve, reject) => {
    try {
      const onError = (err: unknown) => reject(err instanceof BackendError ? err : new BackendError(backend, describe(err), { cause: err }));
      stop = open(backend, url, { ...options, timeoutMs: options.connectTimeoutMs }, (res) => {
        if ((res.statusCode ?? 0) >= 400) {
          reject(new BackendError(backend, `stream answered HTTP ${res.statusCode}`, { transient: (res.statusCode ?? 0) >= 500 }));
          res.resume();
          return;
        }
        res.socket.setTimeout(0);
        let partial = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          partial += chunk;
          const lines = partial.split('\n');
          partial = lines.pop() ?? '';
          for (const line of lines) {
            if (line.trim() === '') continue;
            try {
              onLine(JSON.parse(line));
            } catch {
              // Not JSON: ignore the line, keep the stream.
            }
          }
        });
        res.on('end', () => resolve());
        res.on('error', (err) => reject(new BackendError(backend, describe(err), { cause: err })));
        res.on('close', () => resolve());
      }, onError);
    } catch (err) {
      reject(err instanceof BackendError ? err : new BackendError(backend, describe(err), { cause: err }));
    }
  });
  return { stop: () => stop(), done };
}

function describe(err: unknown): string {
  const e = err as { code?: string; message?: string };
  return e.code ? `${e.code}${e.message && !e.message.includes(e.code) ? ` (${e.message})` : ''}` : (e.message ?? String(err));
}

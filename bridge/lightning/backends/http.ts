/**
 * The HTTP client the backends share: JSON in and out over the guarded outbound client
 * (bridge/http/outbound.ts: address policy, one total deadline, capped reads), an optional CA for
 * nodes with self-signed certificates (LND), and a line-delimited JSON stream reader (LND's invoice
 * subscription). Every failure becomes a BackendError that names the backend and says no more than
 * `refused`, `timed out` or the HTTP status.
 */
import { OutboundError, OutboundStatusError, type Outbound } from '../../http/outbound.js';
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
  /** The guarded client every request to a tenant-chosen URL goes through. */
  outbound: Outbound;
}

export interface HttpResult<T> {
  status: number;
  body: T;
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url.slice(0, 100);
  }
}

function backendError(backend: BackendKind, url: string, err: unknown, timeoutMs: number): BackendError {
  if (err instanceof BackendError) return err;
  const host = hostOf(url);
  if (err instanceof OutboundStatusError) {
    return new BackendError(backend, `stream answered HTTP ${err.status}`, { transient: err.status >= 500 });
  }
  const reason = err instanceof OutboundError ? err.reason : 'refused';
  // Refused by our address policy or by the network look alike on purpose (transient both: a name can change).
  if (reason === 'timeout') return new BackendError(backend, `timed out after ${timeoutMs} ms (${host})`, { cause: err });
  if (reason === 'too_large') return new BackendError(backend, `response too large (${host})`, { cause: err });
  return new BackendError(backend, `request to ${host} refused (unreachable, an untrusted TLS certificate, or an address this server does not connect to)`, {
    cause: err,
  });
}

/** One JSON request. Resolves with any HTTP status; the caller judges it. */
export async function httpJson<T = unknown>(backend: BackendKind, url: string, options: HttpOptions): Promise<HttpResult<T>> {
  if (!URL.canParse(url)) throw new BackendError(backend, `invalid URL ${JSON.stringify(url.slice(0, 200))}`, { transient: false });
  const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
  if (options.json !== undefined) headers['content-type'] = 'application/json';
  let res;
  try {
    res = await options.outbound.request(url, {
      method: options.method ?? 'GET',
      headers,
      timeoutMs: options.timeoutMs,
      ca: options.ca,
      ...(options.json === undefined ? {} : { body: JSON.stringify(options.json) }),
    });
  } catch (err) {
    throw backendError(backend, url, err, options.timeoutMs);
  }
  const text = res.body.toString('utf8');
  let body: unknown;
  if (text.trim() !== '') {
    try {
      body = JSON.parse(text);
    } catch {
      throw new BackendError(backend, `answered HTTP ${res.status} with a body that is not JSON`);
    }
  }
  return { status: res.status, body: body as T };
}

/**
 * Read a stream of JSON lines until `stop()` or the server ends it. Lines that are not JSON are
 * skipped; a line over the outbound line cap drops the stream. `done` settles when the stream ends
 * (rejects on connection errors, an error status or an over-long line).
 */
export function streamJsonLines(
  backend: BackendKind,
  url: string,
  options: Omit<HttpOptions, 'timeoutMs' | 'json' | 'method'> & { connectTimeoutMs: number },
  onLine: (value: unknown) => void,
): { stop: () => void; done: Promise<void> } {
  if (!URL.canParse(url)) {
    return { stop: () => undefined, done: Promise.reject(new BackendError(backend, `invalid URL ${JSON.stringify(url.slice(0, 200))}`, { transient: false })) };
  }
  const stream = options.outbound.stream(
    url,
    { headers: { accept: 'application/json', ...options.headers }, ca: options.ca, connectTimeoutMs: options.connectTimeoutMs },
    (line) => {
      if (line.trim() === '') return;
      try {
        onLine(JSON.parse(line));
      } catch {
        // Not JSON: ignore the line, keep the stream.
      }
    },
  );
  return { stop: stream.stop, done: stream.done.catch((err: unknown) => Promise.reject(backendError(backend, url, err, options.connectTimeoutMs))) };
}

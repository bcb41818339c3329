/**
 * The one HTTP client for URLs a tenant chose (webhooks, wallet backends, Lightning addresses). It
 * resolves the host itself, refuses addresses the policy forbids (./ssrf.ts) and connects only to
 * the addresses it checked (no second lookup, so no DNS-rebinding gap); it gives every request one
 * total deadline (lookup, connect, headers and body) kept by a plain timer that destroys the request;
 * it caps what it reads (a buffered body, one line of a stream); it follows no redirects. Failures
 * say only `refused`, `timeout` or `too large`: which port is closed, filtered or speaks TLS is not
 * the caller's business (the operator's log has the detail at debug level).
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest, type ClientRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import type { Logger } from 'pino';
import { PaywireError } from '../errors.js';
import type { Metrics } from '../metrics.js';
import { literalAddress, OutboundAllow } from './ssrf.js';

export type OutboundFailure = 'refused' | 'timeout' | 'too_large';

const MESSAGES: Record<OutboundFailure, string> = { refused: 'refused', timeout: 'timeout', too_large: 'response too large' };

/** A request that did not get an answer. The message is one of `refused`, `timeout`, `response too large`. */
export class OutboundError extends PaywireError<'outbound_failed'> {
  readonly reason: OutboundFailure;
  constructor(reason: OutboundFailure, cause?: unknown) {
    super('outbound_failed', MESSAGES[reason], cause === undefined ? {} : { cause });
    this.name = 'OutboundError';
    this.reason = reason;
  }
}

/** A stream's server answered with an error status instead of the stream. */
export class OutboundStatusError extends PaywireError<'outbound_status'> {
  readonly status: number;
  constructor(status: number) {
    super('outbound_status', `HTTP ${status}`);
    this.name = 'OutboundStatusError';
    this.status = status;
  }
}

/** Name resolution: every address of `hostname`. Tests pass their own to play DNS. */
export type Resolver = (hostname: string) => Promise<LookupAddress[]>;

export const systemResolver: Resolver = (hostname) =>
  new Promise((resolve, reject) => dnsLookup(hostname, { all: true, verbatim: true }, (err, addresses) => (err ? reject(err) : resolve(addresses))));

export interface OutboundOptions {
  allow?: OutboundAllow;
  metrics?: Metrics | undefined;
  log?: Logger | undefined;
  resolve?: Resolver;
  /** Largest buffered response body (default 1 MiB). */
  maxBodyBytes?: number;
  /** Longest line of a stream (default 64 KiB). */
  maxLineBytes?: number;
}

export interface OutboundRequest {
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
  headers?: Record<string, string>;
  body?: Buffer | string;
  /** The whole request's deadline: lookup, connect, headers and body. */
  timeoutMs: number;
  /** PEM certificate(s) to trust (a node with a self-signed certificate). */
  ca?: string | undefined;
  /** Only the status matters: the body is not read, the connection is closed on the headers. */
  statusOnly?: boolean;
  /** Gives the request up (a component stopping); it then fails `refused`. */
  signal?: AbortSignal;
}

export interface OutboundResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface OutboundStreamRequest {
  headers?: Record<string, string>;
  ca?: string | undefined;
  /** Deadline for the lookup, the connection and the response headers; the stream itself may last. */
  connectTimeoutMs: number;
}

export interface OutboundStream {
  stop: () => void;
  /** Settles when the stream ends; rejects with an OutboundError or OutboundStatusError. */
  done: Promise<void>;
}

/** A URL the client can fetch, or the reason it cannot (invalid, not http(s), credentials in it). */
function parseUrl(url: string): URL | undefined {
  try {
    const target = new URL(url);
    return target.protocol === 'http:' || target.protocol === 'https:' ? target : undefined;
  } catch {
    return undefined;
  }
}

export class Outbound {
  readonly allow: OutboundAllow;
  private readonly metrics: Metrics | undefined;
  private readonly log: Logger | undefined;
  private readonly resolver: Resolver;
  readonly maxBodyBytes: number;
  readonly maxLineBytes: number;

  constructor(options: OutboundOptions = {}) {
    this.allow = options.allow ?? OutboundAllow.none;
    this.metrics = options.metrics;
    this.log = options.log;
    this.resolver = options.resolve ?? systemResolver;
    this.maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
    this.maxLineBytes = options.maxLineBytes ?? 64 * 1024;
  }

  /**
   * Save-time check of a URL: why its host, written as an IP address (any spelling), may never be
   * fetched (e.g. `loopback`), or undefined. Names pass here; they are checked when fetched.
   */
  literalRefusal(url: string): string | undefined {
    const target = parseUrl(url);
    if (!target) return undefined;
    const address = literalAddress(target.hostname);
    return address === undefined ? undefined : this.allow.refusal(address);
  }

  /** One request; resolves with any HTTP status (the caller judges it) and the body, up to the cap. */
  request(url: string, options: OutboundRequest): Promise<OutboundResponse> {
    return new Promise<OutboundResponse>((resolve, reject) => {
      let req: ClientRequest | undefined;
      let settled = false;
      const cancel = () => fail(new Error('cancelled'));
      const fail = (err: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        options.signal?.removeEventListener('abort', cancel);
        req?.destroy();
        reject(this.failure(url, err));
      };
      const succeed = (response: OutboundResponse) => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        options.signal?.removeEventListener('abort', cancel);
        resolve(response);
      };
      // One deadline for everything; a plain timer is never collected before it fires.
      const deadline = setTimeout(() => fail(new OutboundError('timeout')), options.timeoutMs);
      if (options.signal?.aborted) return cancel();
      options.signal?.addEventListener('abort', cancel, { once: true });
      this.open(url, options.method ?? 'GET', options.headers ?? {}, options.body, options.ca).then((opened) => {
        if (settled) {
          opened.on('error', () => undefined).destroy();
          return;
        }
        req = opened;
        req.on('error', fail);
        req.on('response', (res: IncomingMessage) => {
          const status = res.statusCode ?? 0;
          if (options.statusOnly) {
            succeed({ status, headers: res.headers, body: Buffer.alloc(0) });
            res.destroy();
            req?.destroy();
            return;
          }
          const declared = Number(res.headers['content-length']);
          if (Number.isFinite(declared) && declared > this.maxBodyBytes) return fail(new OutboundError('too_large'));
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > this.maxBodyBytes) fail(new OutboundError('too_large'));
            else chunks.push(chunk);
          });
          res.on('error', fail);
          res.on('close', () => {
            if (!res.complete) fail(new Error('response cut short'));
          });
          res.on('end', () => succeed({ status, headers: res.headers, body: Buffer.concat(chunks) }));
        });
        req.end(options.body);
      }, fail);
    });
  }

  /**
   * Read a stream line by line (LND's invoice subscription) until `stop()` or the server ends it.
   * A line longer than the cap drops the stream (`done` rejects `too_large`).
   */
  stream(url: string, options: OutboundStreamRequest, onLine: (line: string) => void): OutboundStream {
    let req: ClientRequest | undefined;
    let stopped = false;
    let settle: (err?: unknown) => void = () => undefined;
    const done = new Promise<void>((resolve, reject) => {
      let settled = false;
      settle = (err?: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        req?.destroy();
        if (err === undefined || stopped) resolve();
        else reject(err instanceof OutboundStatusError ? err : this.failure(url, err));
      };
      const deadline = setTimeout(() => settle(new OutboundError('timeout')), options.connectTimeoutMs);
      this.open(url, 'GET', options.headers ?? {}, undefined, options.ca).then((opened) => {
        if (settled) {
          opened.on('error', () => undefined).destroy();
          return;
        }
        req = opened;
        req.on('error', (err) => settle(err));
        req.on('response', (res: IncomingMessage) => {
          const status = res.statusCode ?? 0;
          if (status >= 400) return settle(new OutboundStatusError(status));
          clearTimeout(deadline);
          const lines = new LineSplitter(this.maxLineBytes);
          res.on('data', (chunk: Buffer) => {
            let complete: string[];
            try {
              complete = lines.push(chunk);
            } catch (err) {
              return settle(err);
            }
            for (const line of complete) {
              if (settled) return;
              try {
                onLine(line);
              } catch {
                // The reader's failure is its own; the stream goes on.
              }
            }
          });
          res.on('error', (err) => settle(err));
          res.on('end', () => settle());
          res.on('close', () => settle());
        });
        req.end();
      }, settle);
    });
    return {
      stop: () => {
        stopped = true;
        settle();
      },
      done,
    };
  }

  /** Check the host, pin its checked addresses, and start the request (not yet ended). */
  private async open(
    url: string,
    method: string,
    headers: Record<string, string>,
    body: Buffer | string | undefined,
    ca: string | undefined,
  ): Promise<ClientRequest> {
    const target = parseUrl(url);
    if (!target || target.username !== '' || target.password !== '') throw new OutboundError('refused', new Error('not an http(s) URL without credentials'));
    const hostname = target.hostname.startsWith('[') ? target.hostname.slice(1, -1) : target.hostname;
    const literal = literalAddress(hostname);
    let addresses: LookupAddress[];
    if (literal !== undefined) addresses = [{ address: literal, family: literal.includes(':') ? 6 : 4 }];
    else {
      try {
        addresses = await this.resolver(hostname);
      } catch (err) {
        throw new OutboundError('refused', err);
      }
    }
    if (addresses.length === 0) throw new OutboundError('refused', new Error('no address'));
    // Every address the name has must pass: a name mixing public and private addresses is refused.
    for (const { address } of addresses) {
      const why = this.allow.refusal(address, literal === undefined ? hostname : undefined);
      if (why !== undefined) {
        this.metrics?.refuse('outbound', 'ssrf');
        this.log?.info({ host: target.host, address, range: why }, 'outbound request refused by the address policy');
        throw new OutboundError('refused', new Error(`${address} is ${why}`));
      }
    }
    // The connection goes to the addresses just checked, never to a second lookup's answer.
    const pinned: LookupFunction = (_name, lookupOptions, callback) => {
      if (lookupOptions.all) (callback as (err: null, all: LookupAddress[]) => void)(null, addresses);
      else {
        const first = addresses.find((a) => !lookupOptions.family || a.family === lookupOptions.family) ?? (addresses[0] as LookupAddress);
        callback(null, first.address, first.family);
      }
    };
    const payload = body === undefined ? undefined : Buffer.from(body);
    const sendHeaders: Record<string, string> = { ...headers };
    if (payload) sendHeaders['content-length'] = String(payload.length);
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    return send(target, {
      method,
      headers: sendHeaders,
      // No pooled sockets: each request connects to its own checked address and closes.
      agent: false,
      lookup: pinned,
      // An IP literal connects directly; a name is still sent as Host and as TLS server name.
      ...(literal !== undefined ? { hostname: literal } : {}),
      ...(ca ? { ca } : {}),
    });
  }

  /** Any failure as an OutboundError, counted and logged with its detail (never shown to tenants). */
  private failure(url: string, err: unknown): OutboundError {
    const out = err instanceof OutboundError ? err : new OutboundError('refused', err);
    if (out.reason !== 'refused') this.metrics?.refuse('outbound', out.reason);
    const cause = out.cause as { code?: string; message?: string } | undefined;
    this.log?.debug({ host: parseUrl(url)?.host, reason: out.reason, detail: cause?.code ?? cause?.message }, 'outbound request failed');
    return out;
  }
}

/**
 * Splits a byte stream into lines, scanning each chunk once (only the new bytes), and refuses a
 * line longer than `maxLineBytes` before it is held in memory.
 */
export class LineSplitter {
  private readonly maxLineBytes: number;
  private parts: Buffer[] = [];
  private size = 0;

  constructor(maxLineBytes: number) {
    this.maxLineBytes = maxLineBytes;
  }

  /** The lines this chunk completes (without their `\n`); throws OutboundError too_large. */
  push(chunk: Buffer): string[] {
    const lines: string[] = [];
    let start = 0;
    for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, start)) {
      const piece = chunk.subarray(start, nl);
      this.grow(piece.length);
      lines.push(this.parts.length === 0 ? piece.toString('utf8') : Buffer.concat([...this.parts, piece]).toString('utf8'));
      this.parts = [];
      this.size = 0;
      start = nl + 1;
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start);
      this.grow(rest.length);
      this.parts.push(rest);
    }
    return lines;
  }

  private grow(bytes: number): void {
    this.size += bytes;
    if (this.size > this.maxLineBytes) {
      this.parts = [];
      this.size = 0;
      throw new OutboundError('too_large');
    }
  }
}

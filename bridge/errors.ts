/**
 * Errors with a stable code. Every error Paywire raises on purpose extends `PaywireError` (`code`,
 * `message`, `details`, `cause`). Services throw `AppError`; each API family's error middleware maps
 * the code to an HTTP status and that family's documented error body. 4xx messages are shown to the
 * caller, 5xx internals never are. Errors raised below the HTTP layer (a backend, the store, an
 * outbound request) carry an internal code that `toAppError` maps to a wire code.
 */
import type { Context, Middleware, Next } from 'koa';
import type { Logger } from 'pino';
import type { ErrorCode as MachinesErrorCode } from './docs/errors.js';

/**
 * The codes an API family answers with: the machine-payments error catalogue (which the shared
 * layers throw, and the x402 and license families translate), the LNURL family's own code and the
 * x402 family's own codes.
 */
export type WireErrorCode = MachinesErrorCode | 'lnurl_error' | X402ErrorCode;

/** The x402 family's own codes: its seed's error table, plus FORBIDDEN, NOT_FOUND and CONFLICT. */
export type X402ErrorCode =
  | 'INVALID_REQUEST'
  | 'INVALID_PAYLOAD'
  | 'VERIFICATION_FAILED'
  | 'SETTLEMENT_FAILED'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'INTERNAL_ERROR';

/** The codes of errors raised below the HTTP layer; never sent as they are (`toAppError` maps them). */
export type InternalErrorCode =
  'backend_error' | 'store_unavailable' | 'store_corrupt' | 'store_in_use' | 'outbound_failed' | 'outbound_status' | 'config_invalid' | 'dev_invoice';

export type ErrorCode = WireErrorCode | InternalErrorCode;

export interface PaywireErrorOptions {
  details?: unknown;
  cause?: unknown;
}

/** The base of every error Paywire raises on purpose: match on its class or its `code`, never on `name`. */
export class PaywireError<C extends ErrorCode = ErrorCode> extends Error {
  readonly code: C;
  readonly details: unknown;

  constructor(code: C, message: string, options: PaywireErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PaywireError';
    this.code = code;
    this.details = options.details;
  }
}

export interface AppErrorOptions extends PaywireErrorOptions {
  headers?: Record<string, string>;
  /** Extra fields a family may add to its error body (e.g. the existing event on a duplicate). */
  extra?: Record<string, unknown>;
}

/** An error answered over HTTP: a status, a wire code, and the headers and extra body fields to send. */
export class AppError extends PaywireError<WireErrorCode> {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly extra: Record<string, unknown>;

  constructor(status: number, code: WireErrorCode, message: string, options: AppErrorOptions = {}) {
    super(code, message, options);
    this.name = 'AppError';
    this.status = status;
    this.headers = options.headers ?? {};
    this.extra = options.extra ?? {};
  }
}

/** A family's wire format for errors. */
export interface ErrorFamily {
  readonly name: string;
  /** Translate a shared code to this family's code; return the code itself when it is the family's own. */
  code(code: WireErrorCode): string;
  /** The HTTP status this family answers an error with, when it differs from the error's own. */
  status?(err: AppError): number;
  body(err: AppError, code: string): Record<string, unknown>;
}

/** koa/http-errors style errors (body parser, router) carry `status` and sometimes `type`. */
interface HttpLikeError {
  status?: unknown;
  statusCode?: unknown;
  type?: unknown;
  message?: unknown;
}

/** Turn anything thrown into an AppError without leaking internals of 5xx errors. */
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  const e = (typeof err === 'object' && err !== null ? err : {}) as HttpLikeError;
  const status = typeof e.status === 'number' ? e.status : typeof e.statusCode === 'number' ? e.statusCode : 500;
  const message = typeof e.message === 'string' ? e.message : 'error';
  // Matched on the code, not the class: the backend and store errors import this module, and a typo
  // in a code is a type error.
  if (err instanceof PaywireError && err.code === 'backend_error') {
    // A Lightning backend failed: what failed is the caller's business (no secrets are in these messages).
    return new AppError(500, 'backend_unavailable', `The Lightning backend is unavailable (${err.message}); retry later`, { cause: err });
  }
  if (err instanceof PaywireError && err.code === 'store_unavailable') {
    // The store cannot be reached or refuses writes (PostgreSQL down, the journal failed): nothing
    // was written, and a retry later may succeed.
    return new AppError(503, 'backend_unavailable', 'Storage is unavailable; the write was not made. Retry with backoff.', { cause: err });
  }
  if (err instanceof SyntaxError && status === 400) {
    // co-body (under koa-bodyparser) rethrows JSON.parse's SyntaxError with status 400.
    return new AppError(400, 'invalid_json', `Request body is not valid JSON: ${message}`, { cause: err });
  }
  switch (e.type) {
    case 'entity.parse.failed':
      return new AppError(400, 'invalid_json', `Request body is not valid JSON: ${message}`, { cause: err });
    case 'entity.too.large':
      return new AppError(413, 'invalid_body', 'Request body is too large', { cause: err });
    case 'charset.unsupported':
    case 'encoding.unsupported':
      return new AppError(415, 'invalid_body', message, { cause: err });
    case 'request.aborted':
      return new AppError(400, 'invalid_body', 'Request body was aborted', { cause: err });
    case 'request.size.invalid':
      return new AppError(400, 'invalid_body', 'Request body size does not match Content-Length', { cause: err });
  }
  if (status === 404) return new AppError(404, 'not_found', 'No such endpoint', { cause: err });
  if (status === 405 || status === 501) return new AppError(405, 'method_not_allowed', 'Method not allowed on this endpoint', { cause: err });
  if (status >= 400 && status < 500) return new AppError(status, 'invalid_body', message, { cause: err });
  return new AppError(500, 'internal_error', 'Internal error', { cause: err });
}

/**
 * The error middleware of one API family. It must be the family's outermost middleware so every
 * error (including 404s for unknown routes) leaves in the family's documented shape.
 */
export function errorMiddleware(family: ErrorFamily, log: Logger): Middleware {
  return async (ctx: Context, next: Next) => {
    try {
      await next();
      if (ctx.body === undefined || ctx.body === null) {
        const where = `${ctx.method} ${ctx.originalUrl.split('?')[0]}`;
        if (ctx.status === 404) throw new AppError(404, 'not_found', `No such endpoint: ${where}`);
        if (ctx.status === 405 || ctx.status === 501) {
          // The router set Allow; unknown methods (501 from the router) are answered as 405 too.
          throw new AppError(405, 'method_not_allowed', `Method not allowed: ${where}`, { headers: { Allow: ctx.response.get('Allow') } });
        }
      }
    } catch (thrown) {
      const err = toAppError(thrown);
      if (err.status >= 500) {
        const requestId = ctx.response.get('X-Request-Id') || undefined;
        log.error({ err: thrown, family: family.name, method: ctx.method, path: ctx.originalUrl.split('?')[0], requestId }, 'request failed');
      }
      const code = family.code(err.code);
      ctx.status = family.status?.(err) ?? err.status;
      for (const [name, value] of Object.entries(err.headers)) ctx.set(name, value);
      ctx.body = family.body(err, code);
    }
  };
}

/**
 * The API families' error shapes, kept apart on the wire as their documents specify: machine
 * payments `{error, message}`, the x402 facilitator `{code, message, details}`, the license server
 * `{ok: false, error, message}`, the public LNURL endpoints `{status: "ERROR", reason}` (LUD-06).
 * Shared layers (auth, bodies, rate limits, routing, storage) throw the machine-payments codes; the
 * x402 and license families translate them.
 */
import type { AppError, ErrorFamily, WireErrorCode } from '../errors.js';
import { BackendError } from '../lightning/backends/backend.js';

export const MACHINES_ERRORS: ErrorFamily = {
  name: 'machines',
  code: (code) => code,
  body: (err: AppError, code) => ({ ...err.extra, error: code, message: err.message }),
};

const X402_CODES: Partial<Record<WireErrorCode, string>> = {
  invalid_json: 'INVALID_REQUEST',
  invalid_body: 'INVALID_REQUEST',
  missing_token: 'UNAUTHORIZED',
  invalid_token: 'UNAUTHORIZED',
  invalid_key: 'UNAUTHORIZED',
  not_found: 'NOT_FOUND',
  method_not_allowed: 'METHOD_NOT_ALLOWED',
  rate_limited: 'RATE_LIMITED',
  lookup_failed: 'INTERNAL_ERROR',
  backend_unavailable: 'INTERNAL_ERROR',
  internal_error: 'INTERNAL_ERROR',
};

export const X402_ERRORS: ErrorFamily = {
  name: 'x402',
  code: (code) => X402_CODES[code] ?? code,
  body: (err: AppError, code) => ({
    code,
    message: err.message,
    details: typeof err.details === 'string' ? err.details : err.details === undefined ? '' : JSON.stringify(err.details),
  }),
};

const LICENSE_CODES: Partial<Record<WireErrorCode, string>> = {
  invalid_json: 'bad_request',
  invalid_body: 'bad_request',
  missing_token: 'unauthorized',
  invalid_token: 'unauthorized',
  invalid_key: 'unauthorized',
  name_taken: 'conflict',
  lookup_failed: 'internal',
  backend_unavailable: 'internal',
  internal_error: 'internal',
};

export const LICENSE_ERRORS: ErrorFamily = {
  name: 'license',
  code: (code) => LICENSE_CODES[code] ?? code,
  body: (err: AppError, code) => ({ ok: false, error: code, message: err.message }),
};

/**
 * What an anonymous payer learns when the backend fails: that it failed and whether to retry, not
 * the operator's node address or error text (those go to the log).
 */
function publicReason(err: AppError): string {
  if (err.code !== 'backend_unavailable') return err.message;
  const cause = err.cause instanceof BackendError ? err.cause : undefined;
  const wallet = cause ? `The machine's Lightning wallet (${cause.backend})` : "The machine's Lightning wallet";
  return cause?.transient === false ? `${wallet} could not make an invoice` : `${wallet} is unavailable right now; try again later`;
}

export const LNURL_ERRORS: ErrorFamily = {
  name: 'lnurl',
  code: (code) => code,
  body: (err: AppError) => ({ status: 'ERROR', reason: publicReason(err) }),
  // A wallet should retry later when the backend is down: 503, not a server fault.
  status: (err: AppError) => (err.code === 'backend_unavailable' ? 503 : err.status),
};

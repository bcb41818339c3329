/** What the license routes need, and their small helpers (path parameters, the spec's 404). */
import type { Context } from 'koa';
import type { z } from 'zod';
import { AppError } from '../../errors.js';
import type { RateLimiter } from '../../http/rate-limit.js';
import type { Metrics } from '../../metrics.js';
import type { LicenseService } from '../service.js';

export interface LicenseDeps {
  service: LicenseService;
  adminTokenSha256: string;
  /** `POST /v1/validate` per client IP. */
  validateLimiter: RateLimiter;
  operator: string;
  version: string;
  metrics?: Metrics | undefined;
}

/** A path parameter checked against its schema: 400 bad_request when it cannot name anything. */
export function param<S extends z.ZodType<string>>(ctx: Context, name: string, schema: S): string {
  const value = (ctx as Context & { params: Record<string, string> }).params[name] ?? '';
  if (!schema.safeParse(value).success) throw new AppError(400, 'invalid_body', `Invalid ${name}: ${JSON.stringify(value.slice(0, 80))}`);
  return value;
}

/** What the machine-payments routes share: their dependencies, state, auth middleware and cursors. */
import type { Context, Middleware, Next } from 'koa';
import type { z } from 'zod';
import { AppError } from '../../errors.js';
import { enforce } from '../../http/rate-headers.js';
import type { RateLimiter } from '../../http/rate-limit.js';
import type { Metrics } from '../../metrics.js';
import { singleValuedQuery, validate } from '../../http/validate.js';
import type { WebhookSigner } from '../../webhooks/signing.js';
import type { AccountsService } from '../accounts.js';
import type { AssetsService } from '../assets.js';
import type { AuthService, Principal } from '../auth.js';
import type { EventLog } from '../event-log.js';
import type { DeviceStateView } from '../views.js';
import type { WebhooksService } from '../webhooks.js';

export interface MachinesDeps {
  auth: AuthService;
  accounts: AccountsService;
  assets: AssetsService;
  events: EventLog;
  webhooks: WebhooksService;
  signer: WebhookSigner;
  /** Per API key. */
  keyLimiter: RateLimiter;
  /** Per account: all its keys (and their session tokens) together. */
  accountLimiter: RateLimiter;
  /** Per client IP, for signups. */
  signupLimiter: RateLimiter;
  /** Counts what the limits refuse. */
  metrics: Metrics;
  /** Whether each asset's device is online (the MQTT broker's knowledge). */
  deviceStates: { view(assetId: string): Promise<DeviceStateView> };
}

export interface MachinesState {
  principal: Principal;
}

/**
 * Charge a request to its key's allowance and to its account's, so that more keys do not buy more
 * requests. The account is charged only for what the key's own limit lets through; the headers show
 * whichever allowance is nearer its end.
 */
export function chargeRequest(ctx: Context, deps: MachinesDeps, principal: Principal): void {
  const perKey = deps.keyLimiter.take(principal.key.key_id);
  if (!perKey.allowed) {
    deps.metrics.refuse('http', 'rate_limited_key');
    enforce(ctx, perKey, 'requests for this API key');
  }
  const perAccount = deps.accountLimiter.take(principal.account.user_id);
  if (!perAccount.allowed) {
    deps.metrics.refuse('http', 'rate_limited_account');
    enforce(ctx, perAccount, 'requests for this account (all its API keys together)');
  }
  const tighter = perAccount.limit > 0 && (perKey.limit === 0 || perAccount.remaining < perKey.remaining) ? perAccount : perKey;
  enforce(ctx, tighter, 'requests');
}

/**
 * Authenticate the caller, charge the request to its key's and its account's rate limits and, for
 * writes, require a full-scope key: a read-only key learns it may not write before anything about its
 * request is judged.
 */
export function authenticate(deps: MachinesDeps, access: 'read' | 'write'): Middleware {
  return async (ctx: Context, next: Next) => {
    const principal = await deps.auth.authenticate(ctx.get('authorization') || undefined);
    chargeRequest(ctx, deps, principal);
    if (access === 'write' && principal.scope !== 'full') {
      throw new AppError(403, 'insufficient_scope', 'This API key is read-only: it can read but not write');
    }
    (ctx.state as MachinesState).principal = principal;
    await next();
  };
}

export function principal(ctx: Context): Principal {
  return (ctx.state as MachinesState).principal;
}

export function body<S extends z.ZodType>(ctx: Context, schema: S): z.output<S> {
  return validate(schema, (ctx.request as { body?: unknown }).body ?? {}, 'body');
}

export function query<S extends z.ZodType>(ctx: Context, schema: S): z.output<S> {
  return validate(schema, singleValuedQuery(ctx.query), 'query');
}

/** Path parameters are ids we issued: anything else cannot name a record. */
export function idParam(ctx: Context, name: string): string {
  const value = (ctx as Context & { params: Record<string, string> }).params[name] ?? '';
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(value)) throw new AppError(400, 'invalid_body', `Invalid ${name}: ${JSON.stringify(value.slice(0, 80))}`);
  return value;
}

export function encodeCursor(seq: number | null): string | null {
  return seq === null ? null : Buffer.from(`s${seq}`).toString('base64url');
}

export function decodeCursor(cursor: string | undefined): number | undefined {
  if (cursor === undefined) return undefined;
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!/^s[1-9]\d{0,15}$/.test(text)) throw new AppError(400, 'invalid_body', 'Invalid query: cursor is not one this API issued');
  return Number(text.slice(1));
}

export const SHOWN_ONCE = 'Store this api_key now: it is shown once and cannot be recovered.';

export function noStore(ctx: Context): void {
  ctx.set('Cache-Control', 'no-store');
}

/**
 * Request schemas of the x402 family's REST API (users, client keys, resources, metrics, admin).
 * Unknown fields are errors, not silently dropped; a failure is 400 INVALID_REQUEST naming each bad
 * field. (`/verify` and `/settle` bodies are parsed by `parseFacilitatorRequest` of wire.ts.)
 */
import { z } from 'zod';
import { isAddress } from 'viem';
import { displayText } from '../http/text.js';
import { CLIENT_SCOPES } from './store.js';

const MAX_JSON_BYTES = 4_096;
const MAX_DEPTH = 8;

const line = (max: number) => z.string().trim().min(1, 'must not be empty').max(max, `must be at most ${max} characters`).superRefine(displayText('line'));

/** RFC 5321 caps an address at 254 characters; the shape check is deliberately plain. */
const email = z
  .string()
  .trim()
  .max(254, 'must be at most 254 characters')
  .regex(/^[^\s@\u0000-\u001f]+@[^\s@\u0000-\u001f]+\.[^\s@\u0000-\u001f]+$/, 'must be an email address');

/** 8 to 256 characters, anything printable (a passphrase may hold spaces). */
const password = z.string().min(8, 'must be at least 8 characters').max(256, 'must be at most 256 characters');

export const signupBody = z.strictObject({ email, password });

/** Login does not judge the shape beyond types: a wrong email or password is the documented 401. */
export const loginBody = z.strictObject({ email: z.string().max(320), password: z.string().max(1_024) });

export const refreshBody = z.strictObject({ refresh_token: z.string().min(1, 'must not be empty').max(8_192) });

export const createClientBody = z.strictObject({
  title: line(100),
  scope: z
    .string()
    .max(200)
    .refine((s) => s.split(',').every((p) => p.trim() === '' || (CLIENT_SCOPES as readonly string[]).includes(p.trim().toLowerCase())), {
      message: `must be a comma-separated list of ${CLIENT_SCOPES.join(', ')}`,
    })
    .refine((s) => s.split(',').some((p) => p.trim() !== ''), { message: 'must name at least one operation' })
    .optional(),
  /** Fractions allowed, down to one second. */
  ttl_hours: z
    .number()
    .min(1 / 3600, 'must be at least 1/3600 (one second)')
    .max(876_000, 'must be at most 876000 (100 years)')
    .optional(),
});

export const pageQuery = (defaultLimit: number) =>
  z
    .strictObject({
      offset: z
        .string()
        .regex(/^\d{1,9}$/, 'must be a whole number from 0')
        .transform(Number)
        .optional(),
      limit: z
        .string()
        .regex(/^\d{1,4}$/, 'must be a whole number from 1 to 1000')
        .transform(Number)
        .refine((n) => n >= 1 && n <= 1_000, 'must be from 1 to 1000')
        .optional(),
    })
    .transform((q) => ({ offset: q.offset ?? 0, limit: q.limit ?? defaultLimit }));

export const noQuery = z.strictObject({});

/** ISO 8601 date or date-time; the report range. */
const instant = z
  .string()
  .max(40)
  .refine((s) => /^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(s) && !Number.isNaN(Date.parse(s)), {
    message: 'must be an ISO 8601 date (2026-01-31) or date-time',
  });
export const rangeQuery = z.strictObject({ from: instant.optional(), to: instant.optional() });

function depthOf(value: unknown): number {
  let max = 0;
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop() as [unknown, number];
    if (typeof v !== 'object' || v === null) continue;
    if (depth > max) max = depth;
    if (max > MAX_DEPTH) return max;
    for (const child of Object.values(v)) stack.push([child, depth + 1]);
  }
  return max;
}

const boundedObject = z.record(z.string(), z.unknown()).superRefine((o, ctx) => {
  if (depthOf(o) > MAX_DEPTH) ctx.addIssue({ code: 'custom', message: `must not nest deeper than ${MAX_DEPTH} levels` });
  else if (Buffer.byteLength(JSON.stringify(o)) > MAX_JSON_BYTES)
    ctx.addIssue({ code: 'custom', message: `must serialise to at most ${MAX_JSON_BYTES} bytes` });
});

/** One payment method a resource accepts: a scheme and a network at least; the rest is the merchant's (x402 requirements). */
const accept = boundedObject.pipe(
  z.looseObject({
    scheme: line(32),
    network: line(64),
  }),
);

export const resourceBody = z.strictObject({
  resource: line(2_048),
  type: line(64).default('endpoint'),
  x402Version: z.union([z.literal(1), z.literal(2)]).default(1),
  accepts: z.array(accept).min(1, 'must list at least one payment method').max(20, 'must list at most 20 payment methods'),
  metadata: boundedObject.default({}),
});

export const adminUserBody = z.strictObject({ email, password, is_admin: z.boolean().default(false) });

export const adminAssetBody = z.strictObject({
  network: z
    .string()
    .trim()
    .regex(/^([a-z0-9][a-z0-9-]{0,63}|eip155:\d{1,18})$/, 'must be a network name (base-sepolia) or a CAIP-2 id (eip155:84532)'),
  asset: z.string().refine((s) => isAddress(s, { strict: false }), 'must be a 0x token address (40 hex digits)'),
  symbol: line(16),
  decimals: z.number().int('must be a whole number').min(0).max(36),
  active: z.boolean().default(true),
  name: line(64).optional(),
  version: line(16).optional(),
});

export const apiKeyBody = z.strictObject({ label: line(64).optional() });

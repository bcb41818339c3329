/** Request schemas of the machine-payments API. Unknown fields are errors, not silently dropped. */
import { z } from 'zod';
import { displayText, jsonTextProblem } from '../http/text.js';
import { EVENT_TYPES } from './types.js';

/** The largest price: 21,000 BTC, so amounts in millisatoshis stay exact in a JS number. */
export const MAX_PRICE_SATS = 2_100_000_000_000;
export const MAX_DURATION_MS = 86_400_000;
export const DEFAULT_DURATION_MS = 1_000;
const MAX_METADATA_BYTES = 4_096;
const MAX_EVENT_DATA_BYTES = 16_384;

/** One line of text people read (names, labels, ids): see http/text.ts for what is refused. */
export const printable = (max: number) =>
  z.string().trim().min(1, 'must not be empty').max(max, `must be at most ${max} characters`).superRefine(displayText('line'));

const HOST = /^(localhost|(\d{1,3}\.){3}\d{1,3}|([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62})(:\d{1,5})?$/;

/** LUD-16 Lightning address: `user@domain`, local part a-z0-9-_.+ (case-insensitive, stored lowercase). */
export const lightningAddress = z
  .string()
  .trim()
  .toLowerCase()
  .max(320)
  .refine((s) => {
    const at = s.lastIndexOf('@');
    return at > 0 && /^[a-z0-9._+-]{1,64}$/.test(s.slice(0, at)) && HOST.test(s.slice(at + 1));
  }, 'must be a Lightning address like name@example.com');

const MAX_JSON_DEPTH = 16;

/** Nesting depth of a parsed JSON value, measured without recursion (a hostile body can nest 10,000 deep). */
function depthOf(value: unknown): number {
  let max = 0;
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop() as [unknown, number];
    if (typeof v !== 'object' || v === null) continue;
    if (depth > max) max = depth;
    if (max > MAX_JSON_DEPTH) return max;
    for (const child of Object.values(v)) stack.push([child, depth + 1]);
  }
  return max;
}

/** Free-form JSON: bounded in depth and size; its keys one-line and its strings multi-line display text. */
const jsonObject = (maxBytes: number) =>
  z.record(z.string(), z.unknown()).superRefine((o, ctx) => {
    if (depthOf(o) > MAX_JSON_DEPTH) ctx.addIssue({ code: 'custom', message: `must not nest deeper than ${MAX_JSON_DEPTH} levels` });
    else if (Buffer.byteLength(JSON.stringify(o)) > maxBytes) ctx.addIssue({ code: 'custom', message: `must serialise to at most ${maxBytes} bytes` });
    else {
      const bad = jsonTextProblem(o);
      if (bad) ctx.addIssue({ code: 'custom', message: bad.problem, path: bad.path });
    }
  });

export const createAccountBody = z.strictObject({
  label: printable(64),
  lightning_address: lightningAddress.nullable().optional(),
});

export const exchangeBody = z.strictObject({ api_key: z.string().max(200) });

export const createKeyBody = z.strictObject({
  scope: z.enum(['read', 'full']).default('read'),
  label: printable(64).nullable().optional(),
});

const price = z.int('must be a whole number of sats').min(1, 'must be at least 1').max(MAX_PRICE_SATS);
const duration = z.int('must be a whole number of milliseconds').min(0).max(MAX_DURATION_MS);

const sats = z.int('must be a whole number of sats').min(1, 'must be at least 1').max(MAX_PRICE_SATS);

const EVM_ADDRESS = /^0x[0-9a-fA-F]{40}$/;
/** Most x402 prices one asset may carry. */
export const MAX_X402_PRICES = 8;

/** An x402 price: the network by its v1 name (`base-sepolia`) or CAIP-2 id (`eip155:84532`), a token, atomic units. */
const x402Price = z.strictObject({
  network: z
    .string()
    .max(40)
    .regex(/^([a-z][a-z0-9-]{0,31}|eip155:[1-9]\d{0,15})$/, 'must be an x402 network name like base-sepolia or a CAIP-2 id like eip155:84532'),
  asset: z.string().regex(EVM_ADDRESS, 'must be the token contract address (0x and 40 hex digits)'),
  // Atomic units below 2^256 (78 digits at most), as x402 puts them on the wire.
  amount: z.string().regex(/^[1-9]\d{0,76}$/, "must be a whole number of the token's atomic units, as a decimal string, at least 1"),
});

/** x402 terms of an asset: who is paid and what it costs; null takes none (Lightning only). */
export const assetX402 = z
  .strictObject({
    pay_to: z.string().regex(EVM_ADDRESS, 'must be the receiving address (0x and 40 hex digits)'),
    prices: z.array(x402Price).min(1, 'must hold at least one price').max(MAX_X402_PRICES, `must hold at most ${MAX_X402_PRICES} prices`),
  })
  .superRefine((terms, ctx) => {
    const seen = new Set<string>();
    for (const [i, price] of terms.prices.entries()) {
      const key = `${price.network}|${price.asset.toLowerCase()}`;
      if (seen.has(key)) ctx.addIssue({ code: 'custom', message: 'gives a second price for the same network and token', path: ['prices', i] });
      seen.add(key);
    }
  });

const assetFields = {
  name: printable(100),
  price_sats: price,
  duration_ms: duration.optional(),
  pricing: z.enum(['fixed', 'variable']).optional(),
  min_sats: sats.nullable().optional(),
  max_sats: sats.nullable().optional(),
  refuse_when_offline: z.boolean().optional(),
  metadata: jsonObject(MAX_METADATA_BYTES).optional(),
  x402: assetX402.nullable().optional(),
};

export const createAssetBody = z.strictObject(assetFields);

export const updateAssetBody = z
  .strictObject({ ...assetFields, name: assetFields.name.optional(), price_sats: assetFields.price_sats.optional() })
  .refine((b) => Object.keys(b).length > 0, 'give at least one field to change');

/**
 * external_id prefixes of events the bridge writes itself: a settled Lightning payment's `paid` event
 * is `lightning:<payment_hash>`. A payment hash is public, so an account that could take such an id
 * first would make its own payment impossible to settle; other rails keep theirs (`x402:`).
 */
export const SYSTEM_EXTERNAL_ID_PREFIXES = ['lightning:', 'x402:'] as const;

/** Why an external_id given by an account (API or MQTT) is refused, or undefined when it may be used. */
export function reservedExternalId(externalId: string): string | undefined {
  const lower = externalId.toLowerCase();
  const prefix = SYSTEM_EXTERNAL_ID_PREFIXES.find((p) => lower.startsWith(p));
  return prefix === undefined ? undefined : `must not start with ${prefix} (reserved for events the bridge records itself)`;
}

export const createEventBody = z.strictObject({
  type: z.enum(EVENT_TYPES),
  asset_id: z.string().max(64).nullable().optional(),
  external_id: printable(128)
    .superRefine((s, ctx) => {
      const problem = reservedExternalId(s);
      if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
    })
    .nullable()
    .optional(),
  data: jsonObject(MAX_EVENT_DATA_BYTES).nullable().optional(),
});

const limit = z.string().regex(/^\d+$/, 'must be a whole number').transform(Number).pipe(z.int().min(1, 'must be at least 1').max(200, 'must be at most 200'));

const cursor = z.string().max(64);

export const listEventsQuery = z.strictObject({
  type: z.enum(EVENT_TYPES).optional(),
  asset_id: z.string().max(64).optional(),
  since: z.iso.datetime({ offset: true, message: 'must be an ISO 8601 timestamp like 2025-01-31T12:00:00Z' }).optional(),
  limit: limit.optional(),
  cursor: cursor.optional(),
});

export const listDeliveriesQuery = z.strictObject({
  status: z.enum(['pending', 'delivered', 'failed', 'cancelled']).optional(),
  limit: limit.optional(),
  cursor: cursor.optional(),
});

export const noQuery = z.strictObject({});

export const putWebhookBody = z.strictObject({
  url: z
    .string()
    .max(2048)
    .refine((s) => {
      try {
        const u = new URL(s);
        return (u.protocol === 'https:' || u.protocol === 'http:') && u.username === '' && u.password === '';
      } catch {
        return false;
      }
    }, 'must be an absolute http(s) URL without credentials'),
  events: z.array(z.enum(EVENT_TYPES)).max(EVENT_TYPES.length).optional(),
});

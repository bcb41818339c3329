/** The license server's request schemas, checked at the edge (routes) before the service sees anything. */
import { z } from 'zod';

export const SLUG = /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** keysat key format v2: an entitlement is a length byte and ASCII. */
const ENTITLEMENT = /^[\x21-\x7e](?:[\x20-\x7e]{0,62}[\x21-\x7e])?$/;

export const slugParam = z.string().regex(SLUG, 'must be a product slug: lowercase letters, digits and inner hyphens, at most 64');
export const uuidParam = z.string().regex(UUID, 'must be a UUID');

export const createProductBody = z.strictObject({
  slug: slugParam,
  name: z.string().trim().min(1).max(200),
  description: z.string().max(2_000).nullable().optional(),
  price_sats: z.number().int().min(0).max(2_100_000_000_000_000),
  metadata: z.record(z.string(), z.unknown()).optional(),
});

export const productActiveBody = z.strictObject({ active: z.boolean() });

export const issueBody = z.strictObject({
  product_slug: slugParam,
  note: z.string().max(1_000).nullable().optional(),
  /** ISO 8601 with an offset; the key carries whole seconds (keysat key format v2). */
  expires_at: z.iso.datetime({ offset: true }).nullable().optional(),
  trial: z.boolean().optional(),
  entitlements: z.array(z.string().regex(ENTITLEMENT, 'must be 1-64 printable ASCII characters, no outer spaces')).max(32).optional(),
  max_machines: z.number().int().min(1).max(10_000).optional(),
  fingerprint: z.string().min(1).max(256).optional(),
});

export const statusBody = z.strictObject({ reason: z.string().max(500).nullable().optional() });

export const reinstateBody = z.strictObject({});

export const listLicensesQuery = z.strictObject({
  product_id: uuidParam,
  limit: z.coerce.number().int().min(1).max(1_000).optional(),
  cursor: z.string().max(64).optional(),
});

export const noQuery = z.strictObject({});

export const deactivateInput = z.object({ key: z.string().min(1).max(4096), fingerprint: z.string().min(1).max(256) });

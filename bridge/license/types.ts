/**
 * The license server's records and answers. Products and licenses as the store keeps them; the key
 * itself is never stored: it is re-made from the record (Ed25519 signatures are deterministic), so
 * nothing at rest is a bearer credential. Machines are the fingerprints holding a license's seats.
 */
import { z } from 'zod';

export interface ProductRecord {
  /** A UUID: the 16 bytes at offset 2 of every key of this product (keysat key format). */
  product_id: string;
  slug: string;
  name: string;
  description: string | null;
  price_sats: number;
  metadata: Record<string, unknown>;
  /** Deactivated products are hidden from public listings and refuse purchases; their licenses still validate. */
  active: boolean;
  created: string;
  updated: string;
}

export type LicenseStatus = 'active' | 'suspended' | 'revoked';

export interface LicenseRecord {
  /** A UUID: the 16 bytes at offset 18 of the key. */
  license_id: string;
  product_id: string;
  /** keysat key format version the key was issued in (1 or 2). */
  version: 1 | 2;
  /** Whole seconds, as in the key. */
  issued_at: string;
  /** null: perpetual. Whole seconds, as in the key (v2 only). */
  expires_at: string | null;
  trial: boolean;
  /** sha256 hex of the fingerprint the key itself is bound to, or null for an unbound key. */
  fingerprint_hash: string | null;
  entitlements: string[];
  /** Machines (fingerprints) that may hold the license at once; 1 is keysat's trust-on-first-use. */
  max_machines: number;
  note: string | null;
  status: LicenseStatus;
  /** Why it was revoked or suspended (admin's words), null while active. */
  status_reason: string | null;
  status_changed_at: string | null;
  /** The purchase that paid for it (one license per invoice), null when issued by hand. */
  invoice_id: string | null;
  created: string;
}

/** A machine holding one of a license's seats. */
export interface MachineRecord {
  license_id: string;
  fingerprint: string;
  activated_at: string;
  /** Refreshed by validations (heartbeats); a seat idle past the reclaim time can be taken over. */
  last_seen: string;
}

/** What asking for a seat came to: already held (`known`), newly taken (`bound`, maybe from a stale machine), or refused (`full`). */
export type SeatClaim = { outcome: 'known' | 'bound'; reclaimed?: string } | { outcome: 'full' };

export const VALIDATE_REASONS = [
  'bad_format',
  'bad_signature',
  'not_found',
  'revoked',
  'suspended',
  'expired',
  'product_mismatch',
  'fingerprint_mismatch',
  'too_many_machines',
] as const;
export type ValidateReason = (typeof VALIDATE_REASONS)[number];

/** `POST /v1/validate`'s answer, and what MQTT's `license` topic carries (always HTTP 200). */
export type ValidateAnswer =
  | {
      ok: true;
      license_id: string;
      product_id: string;
      product_slug: string;
      issued_at: string;
      expires_at: string | null;
      trial: boolean;
      entitlements: string[];
      max_machines: number;
    }
  | { ok: false; reason: ValidateReason };

/** `POST /v1/validate`'s request (extra members are ignored: SDKs may send more). */
export const validateInput = z.object({
  key: z.string().min(1).max(4096),
  product_slug: z.string().min(1).max(100).optional(),
  fingerprint: z.string().min(1).max(256).optional(),
});
export type ValidateInput = z.output<typeof validateInput>;

/** What the admin (or a settled purchase) asks for when issuing. */
export interface IssueRequest {
  product_id: string;
  note?: string | null;
  /** ISO time; the key is then format v2. */
  expires_at?: string | null;
  trial?: boolean;
  entitlements?: string[];
  max_machines?: number;
  /** Bind the key itself to this fingerprint (its sha256 is in the key). */
  fingerprint?: string | null;
  /** The purchase's invoice: issuing is idempotent per invoice. */
  invoice_id?: string | null;
}

/** Fired after a license's standing changed, so MQTT can re-publish to every machine bound to it. */
export interface LicenseChange {
  license_id: string;
  product_id: string;
  change: 'revoked' | 'suspended' | 'reinstated' | 'expired';
  /** The fingerprints holding its seats at the time. */
  fingerprints: string[];
}

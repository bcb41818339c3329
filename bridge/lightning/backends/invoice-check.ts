/**
 * The checks every backend makes on what a Lightning service hands back. An invoice must be the one
 * asked for: BOLT 11 signed, for the amount, committing to the LNURL metadata's hash (LUD-06), with
 * the payment hash the service reported; otherwise a validating wallet refuses it, and we refuse it
 * first. A preimage proves a payment only when sha256(preimage) is the payment hash.
 */
import { createHash } from 'node:crypto';
import bolt11 from 'bolt11';
import type { BackendKind } from '../types.js';
import { BackendError } from './backend.js';

export const HEX32 = /^[0-9a-fA-F]{64}$/;

export interface DecodedInvoice {
  paymentHash: string;
  /** null for "any amount" invoices. */
  amountMsat: string | null;
  descriptionHash: string | null;
  /** BOLT 11 expiry (default 3600 s after its timestamp). */
  expiresAt: string;
}

/** BOLT 11 `x` default when the invoice has no expiry field. */
const DEFAULT_EXPIRY_SECONDS = 3600;

export function decodeInvoice(kind: BackendKind, pr: unknown, from = 'the backend'): DecodedInvoice {
  if (typeof pr !== 'string') throw new BackendError(kind, `${from} answered no invoice`, { transient: false });
  let decoded: ReturnType<typeof bolt11.decode>;
  try {
    decoded = bolt11.decode(pr);
  } catch (err) {
    throw new BackendError(kind, `${from} answered an invoice that is not a BOLT 11 invoice: ${(err as Error).message}`, { transient: false, cause: err });
  }
  const paymentHash = decoded.tagsObject.payment_hash;
  if (typeof paymentHash !== 'string' || !HEX32.test(paymentHash)) {
    throw new BackendError(kind, `${from} answered an invoice without a payment hash`, { transient: false });
  }
  const seconds = decoded.timeExpireDate ?? (decoded.timestamp ?? Math.floor(Date.now() / 1000)) + DEFAULT_EXPIRY_SECONDS;
  return {
    paymentHash: paymentHash.toLowerCase(),
    amountMsat: decoded.millisatoshis ?? null,
    descriptionHash: decoded.tagsObject.purpose_commit_hash ?? null,
    expiresAt: new Date(seconds * 1000).toISOString(),
  };
}

/** Decode an invoice made for us and check it is the one asked for. */
export function checkInvoice(
  kind: BackendKind,
  pr: unknown,
  expected: { amountMsat: number; descriptionHash: string; paymentHash?: string | undefined },
  from?: string,
): DecodedInvoice {
  const invoice = decodeInvoice(kind, pr, from);
  const who = from ?? 'the backend';
  if (invoice.amountMsat !== String(expected.amountMsat)) {
    throw new BackendError(kind, `${who} made an invoice for ${invoice.amountMsat ?? 'any'} msat instead of ${expected.amountMsat}`, { transient: false });
  }
  if (invoice.descriptionHash !== expected.descriptionHash) {
    throw new BackendError(kind, `${who} made an invoice that does not commit to the LNURL metadata (description hash mismatch)`, { transient: false });
  }
  if (expected.paymentHash !== undefined && invoice.paymentHash !== expected.paymentHash.toLowerCase()) {
    throw new BackendError(kind, `${who} reported a payment hash that is not the invoice's`, { transient: false });
  }
  return invoice;
}

/** The preimage (lowercase hex) when it proves the payment, else null. */
export function provenPreimage(preimage: unknown, paymentHash: string): string | null {
  if (typeof preimage !== 'string' || !HEX32.test(preimage)) return null;
  const lower = preimage.toLowerCase();
  return createHash('sha256').update(Buffer.from(lower, 'hex')).digest('hex') === paymentHash.toLowerCase() ? lower : null;
}

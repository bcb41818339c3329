/**
 * The x402 transport headers of a paid HTTP route, both versions:
 * - v1 (`x402` 1.x): the 402 body `{x402Version: 1, accepts, error}`, the payment in `X-PAYMENT`, the
 *   settlement in `X-PAYMENT-RESPONSE`;
 * - v2 (`specs/x402-specification-v2.md`, HTTP transport): the 402 answer also in `PAYMENT-REQUIRED`, the
 *   payment in `PAYMENT-SIGNATURE`, the settlement in `PAYMENT-RESPONSE`.
 * Every header value is base64 of UTF-8 JSON.
 */

export const HEADER = {
  /** v1 payment (request). */
  payment: 'x-payment',
  /** v2 payment (request). */
  signature: 'payment-signature',
  /** v2 requirements (402 answer). */
  required: 'PAYMENT-REQUIRED',
  /** v2 settlement (answer). */
  response: 'PAYMENT-RESPONSE',
  /** v1 settlement (answer). */
  responseV1: 'X-PAYMENT-RESPONSE',
} as const;

/** Longest payment header accepted: an EIP-3009 payload is ~1 KB, an ERC-6492 one a few; a BOLT 11 one less. */
export const MAX_PAYMENT_HEADER_CHARS = 24_576;

export function encodeHeader(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64');
}

export type DecodedHeader = { value: Record<string, unknown> } | { problem: string };

/** A payment header's JSON object, or why it is not one (too long, not base64, not JSON, not an object). */
export function decodePaymentHeader(raw: string): DecodedHeader {
  const text = raw.trim();
  if (text.length === 0) return { problem: 'the payment header is empty' };
  if (text.length > MAX_PAYMENT_HEADER_CHARS) return { problem: `the payment header is longer than ${MAX_PAYMENT_HEADER_CHARS} characters` };
  // Standard or URL-safe base64 (clients differ), padding optional.
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) return { problem: 'the payment header is not base64' };
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(text, 'base64').toString('utf8'));
  } catch {
    return { problem: 'the payment header is not base64-encoded JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { problem: 'the payment header does not hold a JSON object' };
  return { value: value as Record<string, unknown> };
}

/** The error codes of the machine-payments API, in the order of its errors table. */


export interface ErrorCodeDoc {
  code: string;
  /** Every status the code is sent with; the first is the usual one. */
  statuses: number[];
  meaning: string;
}

/** Every code the family answers with, in the order of the errors table. */
export const ERRORS = [
  { code: 'invalid_body', statuses: [400, 413, 415], meaning: 'Validation failed on the request body, query or a path id (413: body too large; 415: body is not JSON).' },
  { code: 'invalid_json', statuses: [400], meaning: 'The request body is not valid JSON.' },
  { code: 'missing_token', statuses: [401], meaning: 'No Authorization header.' },
  { code: 'invalid_token', statuses: [401], meaning: 'Malformed Authorization header or key, or an invalid, expired or revoked session token.' },
  { code: 'invalid_key', statuses: [401], meaning: 'Well-formed API key that is unknown or revoked.' },
  { code: 'invalid_signature', statuses: [401], meaning: 'BTCPay webhook: the BTCPay-Sig header is missing or is not the HMAC of the raw body under the webhook secret.' },
  { code: 'insufficient_scope', statuses: [403], meaning: 'A read-only key tried to write.' },
  { code: 'asset_not_owned', statuses: [403], meaning: 'The asset belongs to another account.' },
  { code: 'asset_not_found', statuses: [404], meaning: 'The referenced asset does not exist (or was deleted).' },
  { code: 'event_not_found', statuses: [404], meaning: 'No such event on this account.' },
  { code: 'key_not_found', statuses: [404], meaning: 'No such live API key on this account.' },
  { code: 'webhook_not_found', statuses: [404], meaning: 'No webhook is set for this account.' },
  { code: 'payment_link_not_found', statuses: [404], meaning: 'The asset has no payment link yet: provision it with POST first.' },
  { code: 'payment_not_found', statuses: [404], meaning: 'No payment (or dev invoice) with this payment hash.' },
  { code: 'credential_not_found', statuses: [404], meaning: 'The asset has no live device credential with this id (unknown, already revoked, or another asset\u2019s).' },
  { code: 'not_found', statuses: [404], meaning: 'No such endpoint.' },
  { code: 'method_not_allowed', statuses: [405], meaning: 'The path exists but not with this method; the Allow header lists the methods.' },
  { code: 'duplicate_event', statuses: [409], meaning: 'An event with the same external_id already exists; event_id names it. Treat as success.' },
  { code: 'name_taken', statuses: [409], meaning: 'Another payment link of this account already has this address name.' },
  { code: 'not_a_dev_invoice', statuses: [409], meaning: 'The invoice was made by another Lightning backend: pay it with a real wallet.' },
  { code: 'invoice_expired', statuses: [409], meaning: 'The invoice has expired and can no longer be paid.' },
  { code: 'key_limit_reached', statuses: [409], meaning: 'The account already holds as many live API keys as it may (MAX_KEYS_PER_ACCOUNT): revoke one first.' },
  { code: 'asset_limit_reached', statuses: [409], meaning: 'The account already holds as many assets as it may (MAX_ASSETS_PER_ACCOUNT): delete one first.' },
  { code: 'credential_limit_reached', statuses: [409], meaning: 'The asset already has as many live device credentials as it may (MAX_DEVICE_CREDENTIALS_PER_ASSET): revoke one first.' },
  { code: 'checkout_not_supported', statuses: [409], meaning: 'The account\u2019s Lightning backend has no hosted checkout (only BTCPay has one).' },
  { code: 'rate_limited', statuses: [429], meaning: 'Too many requests, for this API key or for its account (all its keys together). Inspect Retry-After (seconds) and back off.' },
  { code: 'lookup_failed', statuses: [500], meaning: 'Transient backend error. Retry with exponential backoff.' },
  { code: 'backend_unavailable', statuses: [500, 503], meaning: 'The store or the Lightning backend is unavailable; nothing was written. Retry with exponential backoff. (503: the store is unreachable, or the BTCPay webhook could not re-check the invoice and BTCPay delivers again.)' },
  { code: 'internal_error', statuses: [500], meaning: 'Unexpected server error. Retry with exponential backoff.' },
  { code: 'device_offline', statuses: [409], meaning: 'The machine is offline and its asset refuses payments meanwhile (refuse_when_offline); nothing was charged. Try again later (Retry-After).' },
  { code: 'x402_unavailable', statuses: [503], meaning: 'GET /api/v1/assets/{id}/x402: the asset has no x402 price on a network this bridge runs and no Lightning invoice could be made (the owner\u2019s Lightning backend failed, or too many invoices for this asset this minute). Try again later.' },
  { code: 'mqtt_disabled', statuses: [503], meaning: 'This bridge runs without its MQTT broker (MQTT_ENABLED=false): there is no machine to send a command to.' },
] as const satisfies readonly ErrorCodeDoc[];

export type ErrorCode = (typeof ERRORS)[number]['code'];

export function errorDoc(code: ErrorCode): ErrorCodeDoc {
  return ERRORS.find((x) => x.code === code) as ErrorCodeDoc;
}

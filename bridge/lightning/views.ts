/** What the API sends for a payment. The preimage stays out; LUD-21 verify reveals it once settled. */
import type { PaymentRecord } from './types.js';

export function paymentView(payment: PaymentRecord) {
  return {
    payment_id: payment.payment_id,
    asset_id: payment.asset_id,
    amount_sats: payment.amount_sats,
    duration_ms: payment.duration_ms,
    payment_hash: payment.payment_hash,
    pr: payment.pr,
    status: payment.status,
    rail: payment.rail,
    comment: payment.comment,
    created: payment.created,
    expires_at: payment.expires_at,
    settled_at: payment.settled_at,
    /** When a machine first acknowledged the MQTT payment message (null: not yet delivered). */
    delivered_at: payment.device_acked_at ?? null,
    /** Paid after its asset was deleted: no machine ran, the payer is owed a refund. */
    refund_due: payment.refund_due === true,
  };
}

/** What a hosted checkout answers: the new payment's invoice and where to send the payer. */
export function checkoutView(payment: PaymentRecord, checkoutUrl: string) {
  return {
    payment_id: payment.payment_id,
    asset_id: payment.asset_id,
    amount_sats: payment.amount_sats,
    duration_ms: payment.duration_ms,
    checkout_url: checkoutUrl,
    payment_hash: payment.payment_hash,
    pr: payment.pr,
    status: payment.status,
    expires_at: payment.expires_at,
  };
}

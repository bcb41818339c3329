/** Records of the Lightning rail, as stored. */

export const BACKEND_KINDS = ['dev', 'lnbits', 'lnd', 'btcpay', 'lnaddress'] as const;
export type BackendKind = (typeof BACKEND_KINDS)[number];

/** An asset's permanent LNURL-pay link (one per asset). */
export interface PaymentLinkRecord {
  link_id: string;
  user_id: string;
  asset_id: string;
  /** Local part of the link's Lightning address: `<username>.<name>@host` (LUD-16). */
  name: string;
  /** The link `<username>@host` resolves to: the account's first link unless another is chosen. */
  primary: boolean;
  /** LUD-12: longest comment accepted, 0 = none. */
  comment_allowed: number;
  /** LUD-09 message shown by the wallet after paying. */
  success_message: string;
  created: string;
  updated: string;
}

export type PaymentStatus = 'pending' | 'settled' | 'expired';

export interface PaymentRecord {
  payment_id: string;
  /** Order of creation; backs cursors. */
  seq: number;
  user_id: string;
  asset_id: string;
  link_id: string;
  amount_sats: number;
  /** How long the machine runs for this payment (scaled by the amount for variable prices). */
  duration_ms: number;
  payment_hash: string;
  /** The BOLT 11 invoice. */
  pr: string;
  status: PaymentStatus;
  rail: 'lightning';
  backend: BackendKind;
  /** What the backend needs to look the invoice up again (BTCPay invoice id, LUD-21 verify URL). */
  backend_ref: string | null;
  /** The wallet configuration that made the invoice (`Wallets.versionFor`); lookups go only there. */
  wallet_version: string;
  comment: string | null;
  preimage: string | null;
  expires_at: string;
  created: string;
  settled_at: string | null;
  /** The `paid` event written when it settled. */
  event_id: string | null;
  /**
   * When a device first acknowledged (MQTT PUBACK) the payment message. A settled payment without it
   * is the MQTT outbox: it is sent again whenever a device subscribes to the asset's payments.
   */
  device_acked_at: string | null;
  /**
   * Settled after its asset was deleted (an invoice already handed to a payer can still be paid): no
   * machine is told to run for it, and the operator owes the payer a refund. Absent otherwise.
   */
  refund_due?: boolean;
}

/** An account's own Lightning backend; secrets are stored encrypted and never sent back. */
export interface WalletRecord {
  user_id: string;
  backend: BackendKind;
  /** Non-secret settings (URLs, store id). */
  settings: Record<string, string>;
  /** AES-256-GCM ciphertext of the secret settings (keys, macaroons), base64. */
  secrets_sealed: string | null;
  created: string;
  updated: string;
}

/** The dev backend's own invoices: it is the node, so it keeps the preimages. */
export interface DevInvoiceRecord {
  payment_hash: string;
  preimage: string;
  amount_msat: number;
  expires_at: string;
  settled_at: string | null;
}

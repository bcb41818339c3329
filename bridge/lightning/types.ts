/** Records of the Lightning rail, as stored. */
import { createHash } from 'node:crypto';
import type { CreatedInvoice } from './backends/backend.js';

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

/** How a payment was made: a Lightning invoice, or an x402 EVM authorization settled on chain. */
export const PAYMENT_RAILS = ['lightning', 'x402'] as const;
export type PaymentRail = (typeof PAYMENT_RAILS)[number];

/** An x402 payment's on-chain facts (rail `x402`). */
export interface X402PaymentFacts {
  /** The network as the payer named it (`base-sepolia` or `eip155:84532`). */
  network: string;
  /** Its chain id. Absent on payments recorded before it was kept. */
  chain_id?: number;
  /** The token's address. */
  asset: string;
  /** In the token's smallest unit, a decimal string. */
  amount: string;
  /** The payee the transfer pays (0x). Absent on payments recorded before it was kept. */
  pay_to?: string;
  payer: string;
  /** The transfer's hash; empty while a payment recorded before its transfer was sent waits for it. */
  transaction: string;
  /**
   * The EIP-3009 authorization's nonce (0x, 32 bytes): with the network, token and payer it names the
   * facilitator's ledger row of the transfer. Absent on payments recorded before it was kept.
   */
  nonce?: string;
}

/** What a payment buys when it is not a machine run: a license (the license server's purchases). */
export interface PaymentPurchase {
  kind: 'license';
  product_id: string;
  purchase_id: string;
}

export interface PaymentRecord {
  payment_id: string;
  /** Order of creation; backs cursors. */
  seq: number;
  user_id: string;
  /** The machine it pays; null for a purchase that runs no machine (a license: see `purchase`). */
  asset_id: string | null;
  /** The LNURL-pay link it came through; '' when none did (x402, license purchases). */
  link_id: string;
  /** For rail `x402`, 0: the amount is in `x402.amount`. */
  amount_sats: number;
  /** How long the machine runs for this payment (scaled by the amount for variable prices). */
  duration_ms: number;
  /**
   * The settlement key, unique: the invoice's payment hash on Lightning; for x402, sha256 of
   * `x402|<chainId>|<token>|<payer>|<nonce>` (one EIP-3009 authorization pays once).
   */
  payment_hash: string;
  /** The BOLT 11 invoice ('' for x402). */
  pr: string;
  status: PaymentStatus;
  rail: PaymentRail;
  /** Who made it: a Lightning backend, or `evm` for an x402 payment settled on chain. */
  backend: BackendKind | 'evm';
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
  /** Rail `x402`: the on-chain facts. Absent or null otherwise. */
  x402?: X402PaymentFacts | null;
  /** Set when the payment buys something other than a machine run. Absent or null otherwise. */
  purchase?: PaymentPurchase | null;
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

/** A payment that runs a machine (every payment but a purchase such as a license). */
export type MachinePayment = PaymentRecord & { asset_id: string };

/**
 * A pending Lightning payment for an invoice a backend just made: what an LNURL callback, an x402 Lightning
 * offer and a license purchase each store before the invoice is paid.
 */
export function pendingLightningPayment(p: {
  paymentId: string;
  userId: string;
  /** Null for a purchase that runs no machine (see `purchase`). */
  assetId: string | null;
  /** The LNURL-pay link it came through, '' when none. */
  linkId: string;
  amountSats: number;
  durationMs: number;
  backend: BackendKind;
  walletVersion: string;
  created: CreatedInvoice;
  comment: string | null;
  purchase?: PaymentPurchase;
}): Omit<PaymentRecord, 'seq'> {
  return {
    payment_id: p.paymentId,
    user_id: p.userId,
    asset_id: p.assetId,
    link_id: p.linkId,
    ...(p.purchase ? { purchase: p.purchase } : {}),
    amount_sats: p.amountSats,
    duration_ms: p.durationMs,
    payment_hash: p.created.paymentHash,
    pr: p.created.pr,
    status: 'pending',
    rail: 'lightning',
    backend: p.backend,
    backend_ref: p.created.ref,
    wallet_version: p.walletVersion,
    comment: p.comment,
    preimage: null,
    expires_at: p.created.expiresAt,
    created: new Date().toISOString(),
    settled_at: null,
    event_id: null,
    device_acked_at: null,
  };
}

export function runsMachine(payment: PaymentRecord): payment is MachinePayment {
  return payment.asset_id !== null;
}

/**
 * The settlement key of an x402 payment: one EIP-3009 authorization (token, payer, nonce on one chain)
 * pays once, whichever version or route carried it.
 */
export function x402PaymentKey(chainId: number, token: string, payer: string, nonce: string): string {
  return createHash('sha256').update(`x402|${chainId}|${token.toLowerCase()}|${payer.toLowerCase()}|${nonce.toLowerCase()}`).digest('hex');
}

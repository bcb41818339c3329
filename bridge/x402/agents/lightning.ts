/**
 * x402 over Lightning: the `exact` scheme paid with a BOLT 11 invoice, the payer's preimage as proof.
 *
 * We follow the preimage-based draft of x402-foundation/x402 PR #2861 ("docs: Specify exact Lightning on
 * BIP-122"), with the single-use rule of issue #2938: the network is a CAIP-2 `bip122:` id (BIP-122: the
 * first 32 hex digits of the chain's genesis block hash), Lightning is marked by `extra.paymentMethod:
 * "lightning"`, the invoice travels in `extra.invoice` (the layout of `specs/schemes/exact/scheme_exact_lightning.md`),
 * `amount` is in millisatoshis, `asset` is `BTC` and `payTo` is `anonymous` (the payee is in the invoice).
 * Proof: the payload carries `{invoice, preimage}`; sha256(preimage) must equal the invoice's payment hash,
 * which anyone can check without a Lightning node.
 *
 * Where we differ from the drafts (see the README): the invoice must be one this bridge issued for that
 * asset (the drafts allow any recipient-signed invoice); `extra.paymentHash` is added for clients that
 * cannot decode BOLT 11; the dev backend's regtest invoices (`lnbcrt`) get the regtest id; and the
 * settlement `transaction` is the payment hash, as in the drafts, with `payer: "anonymous"`.
 */
import { createHash } from 'node:crypto';
import type { PaymentRequirementsV2 } from '../types.js';

export const LIGHTNING_METHOD = 'lightning';
export const LIGHTNING_ASSET = 'BTC';
export const LIGHTNING_PAY_TO = 'anonymous';

/** CAIP-2 ids of the Bitcoin chains (BIP-122 genesis block hash prefixes), by BOLT 11 currency prefix. */
export const BITCOIN_NETWORKS = {
  mainnet: 'bip122:000000000019d6689c085ae165831e93',
  testnet: 'bip122:000000000933ea01ad0ee984209779ba',
  signet: 'bip122:00000008819873e925422c1ff0f99f7c',
  regtest: 'bip122:0f9188f13cb7b2c71f2a335e3a4fc328',
} as const;

/** BOLT 11 human-readable prefixes, longest first (`lnbcrt` before `lnbc`, `lntbs` before `lntb`). */
const PREFIXES: [string, string][] = [
  ['lnbcrt', BITCOIN_NETWORKS.regtest],
  ['lntbs', BITCOIN_NETWORKS.signet],
  ['lntb', BITCOIN_NETWORKS.testnet],
  ['lnbc', BITCOIN_NETWORKS.mainnet],
];

const KNOWN = new Set<string>(Object.values(BITCOIN_NETWORKS));

/** The CAIP-2 network of a BOLT 11 invoice, by its prefix. */
export function networkOfInvoice(pr: string): string | undefined {
  const lower = pr.toLowerCase();
  return PREFIXES.find(([prefix]) => lower.startsWith(prefix))?.[1];
}

export function isLightningNetwork(network: string): boolean {
  return KNOWN.has(network);
}

/** The requirements that offer one invoice (x402 v2 `PaymentRequirements`). */
export function lightningRequirement(p: { pr: string; paymentHash: string; amountMsat: number; expiresAt: string }): PaymentRequirementsV2 & {
  extra: Record<string, unknown>;
} {
  return {
    scheme: 'exact',
    network: networkOfInvoice(p.pr) ?? BITCOIN_NETWORKS.mainnet,
    amount: String(p.amountMsat),
    asset: LIGHTNING_ASSET,
    payTo: LIGHTNING_PAY_TO,
    // Until the invoice expires (the draft: no longer than the invoice's expiry).
    maxTimeoutSeconds: Math.max(0, Math.floor((Date.parse(p.expiresAt) - Date.now()) / 1000)),
    extra: { paymentMethod: LIGHTNING_METHOD, invoice: p.pr, paymentHash: p.paymentHash },
  };
}

/** A Lightning proof as the payer sent it, its shape checked (not yet against our invoices). */
export interface LightningProof {
  invoice: string;
  preimage: string;
  /** sha256(preimage), hex. */
  paymentHash: string;
  /** `accepted.amount`, millisatoshis. */
  amountMsat: string;
  network: string;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Whether a v2 payment payload chose a Lightning requirement (then `parseLightningProof` reads it). */
export function choosesLightning(payment: Record<string, unknown>): boolean {
  const accepted = payment['accepted'];
  return isObject(accepted) && isObject(accepted['extra']) && accepted['extra']['paymentMethod'] === LIGHTNING_METHOD;
}

/**
 * Read `{accepted: {scheme, network, amount, extra: {invoice}}, payload: {invoice, preimage}}`. The
 * payload's invoice must be the accepted one (the draft's guard against invoice substitution).
 */
export function parseLightningProof(payment: Record<string, unknown>): LightningProof | { problem: string } {
  if (payment['x402Version'] !== 2) return { problem: 'x402 over Lightning is x402 version 2 only (send PAYMENT-SIGNATURE)' };
  const accepted = payment['accepted'] as Record<string, unknown>;
  const extra = accepted['extra'] as Record<string, unknown>;
  const payload = payment['payload'];
  if (accepted['scheme'] !== 'exact') return { problem: 'accepted.scheme must be exact' };
  const network = accepted['network'];
  if (typeof network !== 'string' || !isLightningNetwork(network)) return { problem: 'accepted.network must be a bip122 network of this bridge' };
  const amount = accepted['amount'];
  if (typeof amount !== 'string' || !/^\d{1,20}$/.test(amount)) return { problem: 'accepted.amount must be millisatoshis as a decimal string' };
  const invoice = extra['invoice'];
  if (typeof invoice !== 'string' || invoice.length > 4096) return { problem: 'accepted.extra.invoice must be the BOLT 11 invoice offered' };
  if (!isObject(payload)) return { problem: 'payload must be an object with the preimage' };
  const preimage = payload['preimage'];
  if (typeof preimage !== 'string' || !/^[0-9a-fA-F]{64}$/.test(preimage)) return { problem: 'payload.preimage must be 32 bytes of hex' };
  if (payload['invoice'] !== undefined && payload['invoice'] !== invoice) return { problem: 'payload.invoice is not the invoice accepted' };
  const paymentHash = createHash('sha256').update(Buffer.from(preimage, 'hex')).digest('hex');
  return { invoice, preimage: preimage.toLowerCase(), paymentHash, amountMsat: amount, network };
}

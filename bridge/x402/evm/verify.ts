/**
 * Every check of an `exact` EVM payment before anything is sent (x402 `scheme_exact_evm.md` "Verification Logic",
 * the reference facilitators' order and reason strings): scheme; network configured and active; asset registered
 * and active; v2 `accepted` equal to the requirements; `to` = `payTo`; the time window (`validBefore` at least 6 s
 * ahead, `validAfter` passed); the value (v1: at least `maxAmountRequired`; v2: exactly `amount`); the signature
 * (EOA, ERC-1271, ERC-6492); the balance; and the nonce unused — on chain (EIP-3009 `authorizationState`, which the
 * v1 reference skips) and in our ledger (a settlement in flight answers `settlement_pending`). The chain reads
 * and the ledger read run while the signature is checked.
 */
import { getAddress, type Address, type Hex } from 'viem';
import type { Logger } from 'pino';
import { settlementKey, type X402SettlementLedger, type X402SettlementRecord } from '../ledger.js';
import type { AssetRegistry, ExactEvmPayload, FacilitatorRequest } from '../types.js';
import { exactEvmPayloadOf } from '../wire.js';
import type { EvmNetwork } from './network.js';
import { findNetwork } from './networks.js';
import { REASON, type Reason } from './reasons.js';
import { checkSignature } from './signature.js';

/** validBefore must be at least this far ahead (the reference's "3 blocks" of Base). */
export const VALID_BEFORE_MARGIN_SECONDS = 6;

export interface VerifyContext {
  networks: readonly EvmNetwork[];
  registry: AssetRegistry;
  ledger: X402SettlementLedger;
  log: Logger;
  /** Seconds since the epoch. */
  now?: () => number;
}

/** What a passed (or partly passed) verification established, for settle. */
export interface Checked {
  network: EvmNetwork;
  token: Address;
  payload: ExactEvmPayload;
  key: string;
  /** The name the request used (v1 name or CAIP-2 id), echoed in answers. */
  requestNetwork: string;
  erc6492?: { factory: Address; data: Hex; inner: Hex };
}

export type VerifyOutcome =
  { valid: true; payer: string; checked: Checked } | { valid: false; reason: Reason; payer: string; checked?: Checked; ledgerRow?: X402SettlementRecord };

export function requestNetworkOf(request: FacilitatorRequest): string {
  return request.x402Version === 1 ? request.paymentPayload.network : request.paymentPayload.accepted.network;
}

const sameAddress = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();

/** The checks that need neither chain nor signature: which network, token and payload, or why not. */
export async function locate(ctx: VerifyContext, request: FacilitatorRequest): Promise<{ checked: Checked } | { reason: Reason; payer: string }> {
  const payload = exactEvmPayloadOf(request);
  const payer = payload?.authorization.from ?? '';
  const req = request.paymentRequirements;
  if (request.x402Version === 1) {
    const p = request.paymentPayload;
    if (p.scheme !== 'exact' || req.scheme !== 'exact') return { reason: REASON.unsupportedScheme, payer };
    if (p.network !== req.network) return { reason: REASON.invalidNetwork, payer };
  } else {
    const accepted = request.paymentPayload.accepted;
    const req2 = request.paymentRequirements;
    if (accepted.scheme !== 'exact' || req2.scheme !== 'exact') return { reason: REASON.unsupportedScheme, payer };
    if (accepted.network !== req2.network) return { reason: REASON.invalidNetwork, payer };
    // x402 v2 §5.2: `accepted` is the requirement the payer chose; it must be the one presented.
    if (accepted.amount !== req2.amount || !sameAddress(accepted.asset, req2.asset) || !sameAddress(accepted.payTo, req2.payTo)) {
      return { reason: REASON.invalidRequirements, payer };
    }
  }
  const network = findNetwork(ctx.networks, req.network);
  if (!network || !network.active) return { reason: REASON.invalidNetwork, payer };
  const asset = await ctx.registry.findActive(req.network, req.asset);
  if (!asset || !asset.active) return { reason: REASON.invalidRequirements, payer };
  if (!payload) return { reason: REASON.invalidPayload, payer };
  const token = getAddress(req.asset);
  const a = payload.authorization;
  return { checked: { network, token, payload, requestNetwork: req.network, key: settlementKey(network.chainId, token, a.from, a.nonce) } };
}

/** Verify a request; `ledger: false` skips the ledger read (settle has read it already). */
export async function verifyExact(ctx: VerifyContext, request: FacilitatorRequest, options: { ledger?: boolean } = {}): Promise<VerifyOutcome> {
  const located = await locate(ctx, request);
  if ('reason' in located) return { valid: false, reason: located.reason, payer: located.payer };
  const { checked } = located;
  const { network, token, payload } = checked;
  const a = payload.authorization;
  const payer = a.from;
  const fail = (reason: Reason, ledgerRow?: X402SettlementRecord): VerifyOutcome => ({
    valid: false,
    reason,
    payer,
    checked,
    ...(ledgerRow ? { ledgerRow } : {}),
  });

  // Local checks first: they cost nothing.
  const req = request.paymentRequirements;
  if (!sameAddress(a.to, req.payTo)) return fail(REASON.recipient);
  const now = (ctx.now ?? (() => Math.floor(Date.now() / 1000)))();
  if (BigInt(a.validBefore) < BigInt(now + VALID_BEFORE_MARGIN_SECONDS)) return fail(REASON.validBefore);
  if (BigInt(a.validAfter) > BigInt(now)) return fail(REASON.validAfter);
  const value = BigInt(a.value);
  if (request.x402Version === 1 && value < BigInt(request.paymentRequirements.maxAmountRequired)) return fail(REASON.value);
  if (request.x402Version === 2 && value !== BigInt(request.paymentRequirements.amount)) return fail(REASON.valueMismatch);

  // Reads (chain, ledger) in flight while the signature is checked.
  const reads = network.reads(token, a.from, a.nonce);
  const row = options.ledger === false ? Promise.resolve(undefined) : ctx.ledger.get(checked.key);
  reads.catch(() => undefined);
  row.catch(() => undefined);
  const domain = await network.domain(token, req.extra);
  if (!domain) return fail(REASON.invalidRequirements);
  const signature = await checkSignature(network, domain, token, a, payload.signature);
  if (!signature.ok) return fail(signature.reason === 'undeployed' ? REASON.undeployedWallet : REASON.signature);
  if (signature.erc6492) checked.erc6492 = signature.erc6492;

  const ledgerRow = await row;
  if (ledgerRow && ledgerRow.state === 'settled') return fail(REASON.nonceUsed, ledgerRow);
  if (ledgerRow && (ledgerRow.state === 'sending' || ledgerRow.state === 'pending')) return fail(REASON.pending, ledgerRow);
  const { balance, used } = await reads;
  if (used) return fail(REASON.nonceUsed, ledgerRow);
  if (balance < value) return fail(REASON.insufficientFunds);
  return { valid: true, payer, checked };
}

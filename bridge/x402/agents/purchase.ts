/**
 * Machines that agents buy over x402 (`GET /api/v1/assets/{id}/x402`). Without a payment the answer is
 * 402 with what the asset takes: its EVM prices (x402 v1 body and v2 `PAYMENT-REQUIRED` header) and a
 * Lightning invoice (v2 only, see lightning.ts). With a payment (`X-PAYMENT`, v1, or `PAYMENT-SIGNATURE`,
 * v2) it is checked against our own terms, never the payer's, then:
 * - EVM: verified and settled in process through the `Facilitator` (no HTTP hop), recorded with
 *   `Settlement.recordX402` (rail `x402`, once per EIP-3009 authorization);
 * - Lightning: the preimage proves the invoice paid; settled with `Settlement.settle(hash, preimage)`;
 *   each invoice is redeemed once (a `custom` event with external_id `x402:receipt:<payment hash>`,
 *   unique per account on both store engines).
 * Either way the `payment.settled` bus event runs the machine over MQTT exactly as a Lightning payment
 * does, and the answer is 200 with the settlement in `X-PAYMENT-RESPONSE` / `PAYMENT-RESPONSE`.
 * A machine known to be offline whose asset refuses payments then is refused before anything is
 * charged (409 device_offline): no invoice is issued, no authorization settled.
 */
import type { Logger } from 'pino';
import { AppError } from '../../errors.js';
import type { DeviceStateSource } from '../../lightning/links.js';
import type { Settlement } from '../../lightning/settlement.js';
import type { LightningStore } from '../../lightning/store.js';
import { x402PaymentKey, type PaymentRecord } from '../../lightning/types.js';
import type { EventLog } from '../../machines/event-log.js';
import type { MachinesStore } from '../../machines/store.js';
import type { AssetRecord } from '../../machines/types.js';
import type { Metrics } from '../../metrics.js';
import type { X402NetworkConfig } from '../evm/networks.js';
import { settlementKey, type X402SettlementLedger } from '../ledger.js';
import type { AssetRegistry, Facilitator, FacilitatorRequest, PaymentRequirementsV2, SettleAnswer } from '../types.js';
import { exactEvmPayloadOf, isRequestProblem, parseFacilitatorRequest } from '../wire.js';
import type { TokenDomains } from './domains.js';
import { decodePaymentHeader, encodeHeader, HEADER } from './headers.js';
import type { X402Invoices } from './invoices.js';
import { choosesLightning, LIGHTNING_PAY_TO, parseLightningProof } from './lightning.js';
import { describeRun, evmOffers, offerForV2, offersForV1, type EvmOffer, type Resource } from './offers.js';

export interface AgentPurchasesOptions {
  machines: MachinesStore;
  payments: LightningStore;
  settlement: Settlement;
  events: EventLog;
  deviceState: DeviceStateSource;
  invoices: X402Invoices;
  /** Undefined when no x402 network runs: only Lightning is offered. */
  facilitator: Facilitator | undefined;
  /** The facilitator's settlement ledger: where a settle that answered pending is found settled later. */
  ledger: X402SettlementLedger | undefined;
  registry: AssetRegistry | undefined;
  networks: readonly X402NetworkConfig[];
  domains: TokenDomains;
  /** The public URL of an asset's purchase route (the requirements' `resource`). */
  resourceUrl: (assetId: string) => string;
  log: Logger;
  metrics?: Metrics | undefined;
}

/** What the route sends: a status, a JSON body and headers. */
export interface PurchaseAnswer {
  status: 200 | 202 | 402;
  body: Record<string, unknown>;
  headers: Record<string, string>;
}

/** The payment headers of a request (lowercase names). */
export interface PaymentHeaders {
  v1?: string | undefined;
  v2?: string | undefined;
}

interface Offers {
  resource: Resource;
  evm: EvmOffer[];
  lightning: (PaymentRequirementsV2 & { extra: Record<string, unknown> }) | undefined;
}

/** How long a purchase whose settlement answered pending is remembered for the payer's retry. */
const PENDING_MEMORY_MS = 15 * 60_000;
/** Most pending purchases remembered at once. */
const MAX_PENDING = 10_000;

export class AgentPurchases {
  private readonly options: AgentPurchasesOptions;
  /** Authorizations (ledger keys) this route sent whose receipt was late: the asset each pays, and since when. */
  private readonly pending = new Map<string, { assetId: string; at: number }>();

  constructor(options: AgentPurchasesOptions) {
    this.options = options;
  }

  /** Answer a request to buy one run of `assetId`. */
  async handle(assetId: string, headers: PaymentHeaders): Promise<PurchaseAnswer> {
    const asset = await this.liveAsset(assetId);
    const raw = headers.v2 ?? headers.v1;
    if (raw === undefined) {
      this.refuseOffline(asset);
      const offers = await this.offers(asset, true);
      if (offers.evm.length === 0 && !offers.lightning) {
        throw new AppError(
          503,
          'x402_unavailable',
          'This machine takes no x402 payment right now: no x402 price on a network this bridge runs, and no Lightning invoice could be made',
        );
      }
      return this.required(offers, 'X-PAYMENT or PAYMENT-SIGNATURE header is required');
    }
    const decoded = decodePaymentHeader(raw);
    if ('problem' in decoded) return this.required(await this.offers(asset, false), decoded.problem, 'invalid_payload');
    const payment = decoded.value;
    if (payment['x402Version'] !== 1 && payment['x402Version'] !== 2) {
      return this.required(await this.offers(asset, false), 'x402Version must be 1 or 2', 'invalid_x402_version');
    }
    if (payment['x402Version'] === 2 && choosesLightning(payment)) return this.payLightning(asset, payment);
    return this.payEvm(asset, payment);
  }

  // ------------------------------------------------------------------ EVM (exact, EIP-3009)

  private async payEvm(asset: AssetRecord, payment: Record<string, unknown>): Promise<PurchaseAnswer> {
    const { facilitator, log } = this.options;
    const offers = await this.offers(asset, false);
    const version = payment['x402Version'] as 1 | 2;
    let candidates: EvmOffer[];
    if (version === 1) {
      candidates = offersForV1(offers.evm, payment['network']);
    } else {
      const accepted = payment['accepted'];
      const offer = typeof accepted === 'object' && accepted !== null ? offerForV2(offers.evm, accepted as Record<string, unknown>) : undefined;
      candidates = offer ? [offer] : [];
      // Our terms, not the payer's: the accepted amount and payee must be the ones offered.
      const terms = accepted as Record<string, unknown> | undefined;
      if (offer && terms && (terms['amount'] !== offer.v2.amount || String(terms['payTo']).toLowerCase() !== offer.v2.payTo.toLowerCase())) {
        return this.required(offers, 'the accepted requirements are not the ones offered (amount or payTo differ)', 'invalid_payment_requirements');
      }
    }
    if (!facilitator || candidates.length === 0) {
      return this.required(offers, 'this machine takes no x402 payment on that network and token', 'invalid_network');
    }
    // With several tokens on one network a v1 payload does not name its token: the one it verifies for is it.
    let chosen: { offer: EvmOffer; request: FacilitatorRequest } | undefined;
    let refusal = { reason: 'invalid_payload', payer: '', details: '' };
    for (const offer of candidates) {
      const request = parseFacilitatorRequest({ x402Version: version, paymentPayload: payment, paymentRequirements: version === 1 ? offer.v1 : offer.v2 });
      if (isRequestProblem(request)) {
        refusal = { reason: request.code === 'INVALID_PAYLOAD' ? 'invalid_payload' : 'invalid_payment_requirements', payer: '', details: request.details };
        continue;
      }
      const authorization = exactEvmPayloadOf(request)?.authorization;
      if (authorization && (await this.options.payments.getPaymentByHash(this.keyOf(offer, authorization.from, authorization.nonce)))) {
        refusal = { reason: 'nonce_already_used', payer: authorization.from, details: 'this authorization already paid for a run' };
        continue;
      }
      this.refuseOffline(asset);
      const verdict = await facilitator.verify(request);
      if (verdict.isValid) {
        chosen = { offer, request };
        break;
      }
      // Used on chain: if this route sent it and answered pending (202), the retry finds it settled now.
      if ((verdict.invalidReason === 'nonce_already_used' || verdict.invalidReason === 'settlement_pending') && authorization) {
        const landed = await this.landed(asset, offer, authorization.from, authorization.nonce);
        if (landed?.state === 'settled') return this.recordRun(asset, offer, version, offers, landed);
        if (landed?.state === 'pending') return this.pendingAnswer(asset, { ...landed, payer: authorization.from, errorReason: 'settlement_pending' });
      }
      refusal = { reason: verdict.invalidReason || 'invalid_payload', payer: verdict.payer, details: '' };
    }
    if (!chosen) {
      this.count('evm', 'refused');
      return this.required(offers, refusal.details || refusal.reason, refusal.reason, refusal.payer);
    }
    const { offer, request } = chosen;
    const settled = await facilitator.settle(request);
    if (!settled.success && (settled.pending || settled.errorReason === 'settlement_pending')) {
      // Sent, receipt not yet seen: never a failure that invites the payer to sign again. The payer
      // retries the same header; once the ledger holds it settled, the run is recorded then.
      const sent = exactEvmPayloadOf(request)?.authorization;
      if (sent) this.remember(settlementKey(offer.network.chainId, offer.price.asset, sent.from, sent.nonce), asset.asset_id);
      return this.pendingAnswer(asset, settled);
    }
    if (!settled.success && settled.errorReason === 'nonce_already_used') {
      this.count('evm', 'refused');
      return this.required(offers, 'this authorization was already used', 'nonce_already_used', settled.payer);
    }
    if (!settled.success) {
      this.count('evm', 'settle_failed');
      log.warn({ assetId: asset.asset_id, reason: settled.errorReason, network: settled.network }, 'x402 settle failed');
      return this.required(offers, settled.errorReason || 'unexpected_settle_error', settled.errorReason || 'unexpected_settle_error', settled.payer);
    }
    const authorization = exactEvmPayloadOf(request)?.authorization;
    const payer = settled.payer || authorization?.from || '';
    return this.recordRun(asset, offer, version, offers, {
      payer,
      nonce: authorization?.nonce ?? settled.transaction,
      transaction: settled.transaction,
      network: settled.network,
    });
  }

  /** 202: the transfer is sent, its receipt not yet seen; the payer sends the same header again later. */
  private pendingAnswer(asset: AssetRecord, settled: Pick<SettleAnswer, 'transaction' | 'network' | 'payer' | 'errorReason'>): PurchaseAnswer {
    this.count('evm', 'pending');
    return {
      status: 202,
      body: { status: 'pending', asset_id: asset.asset_id, transaction: settled.transaction, retry: 'send the same payment header again shortly' },
      headers: { ...this.responseHeaders({ ...settled, success: false, pending: true }), 'Retry-After': '2' },
    };
  }

  /** Record the run an on-chain transfer paid, once per authorization, and answer it. */
  private async recordRun(
    asset: AssetRecord,
    offer: EvmOffer,
    version: 1 | 2,
    offers: Offers,
    paid: { payer: string; nonce: string; transaction: string; network: string },
  ): Promise<PurchaseAnswer> {
    const { payer, transaction } = paid;
    const outcome = await this.options.settlement.recordX402({
      userId: asset.user_id,
      assetId: asset.asset_id,
      durationMs: asset.duration_ms,
      key: this.keyOf(offer, payer, paid.nonce),
      facts: { network: version === 1 ? offer.v1.network : offer.v2.network, asset: offer.price.asset, amount: offer.price.amount, payer, transaction },
    });
    if (!outcome.newly) {
      // The same authorization sent twice at once: one run, the other answer is the replay refusal.
      this.count('evm', 'refused');
      return this.required(offers, 'this authorization already paid for a run', 'nonce_already_used', payer);
    }
    this.count('evm', 'paid');
    return {
      status: 200,
      body: paidBody(outcome.payment, { network: paid.network, transaction, payer }),
      headers: this.responseHeaders({ success: true, transaction, network: paid.network, payer, errorReason: '' }),
    };
  }

  /**
   * A settlement this route left pending, now settled in the ledger, for this asset's terms. Only our own
   * pending purchases count: an authorization someone settled elsewhere (another resource server using
   * this facilitator, paying the same address) never buys a run here.
   */
  private async landed(asset: AssetRecord, offer: EvmOffer, payer: string, nonce: string) {
    const key = settlementKey(offer.network.chainId, offer.price.asset, payer, nonce);
    const mine = this.pending.get(key);
    if (!mine || mine.assetId !== asset.asset_id || !this.options.ledger) return undefined;
    const row = await this.options.ledger.get(key);
    if (!row || row.pay_to.toLowerCase() !== offer.v2.payTo.toLowerCase() || BigInt(row.value) < BigInt(offer.price.amount)) return undefined;
    const found = { payer, nonce, transaction: row.tx_hash ?? '', network: offer.network.network };
    if (row.state === 'sending' || row.state === 'pending') return { state: 'pending' as const, ...found };
    if (row.state !== 'settled' || row.tx_hash === null) return undefined;
    this.pending.delete(key);
    return { state: 'settled' as const, ...found };
  }

  private remember(key: string, assetId: string): void {
    const now = Date.now();
    for (const [k, v] of this.pending) {
      if (this.pending.size < MAX_PENDING && now - v.at < PENDING_MEMORY_MS) break;
      this.pending.delete(k);
    }
    this.pending.set(key, { assetId, at: now });
  }

  private keyOf(offer: EvmOffer, payer: string, nonce: string): string {
    return x402PaymentKey(offer.network.chainId, offer.price.asset, payer, nonce);
  }

  // ------------------------------------------------------------------ Lightning (preimage proof)

  private async payLightning(asset: AssetRecord, payment: Record<string, unknown>): Promise<PurchaseAnswer> {
    const proof = parseLightningProof(payment);
    if ('problem' in proof) return this.required(await this.offers(asset, false), proof.problem, 'invalid_payload');
    const refuse = async (message: string, reason: string) => {
      this.count('lightning', 'refused');
      return this.required(await this.offers(asset, false), message, reason);
    };
    const invoice = await this.options.payments.getPaymentByHash(proof.paymentHash);
    // Only an invoice this bridge issued for this asset, the very one accepted, and sha256(preimage) found it.
    if (!invoice || invoice.asset_id !== asset.asset_id || invoice.rail !== 'lightning' || invoice.pr !== proof.invoice) {
      return refuse(
        'the preimage does not pay an invoice this machine issued (sha256(preimage) must be the invoice payment hash)',
        'invalid_exact_lightning_preimage',
      );
    }
    if (proof.amountMsat !== String(invoice.amount_sats * 1000)) return refuse('accepted.amount is not the invoice amount', 'invalid_exact_lightning_amount');
    if (invoice.status === 'expired' || (invoice.status === 'pending' && Date.parse(invoice.expires_at) <= Date.now())) {
      return refuse('the invoice expired before the proof came', 'invalid_exact_lightning_expired');
    }
    // The preimage proves the payment: settle now, without waiting for the backend (a repeat settles nothing).
    const outcome = await this.options.settlement.settle(proof.paymentHash, proof.preimage);
    const receipt = await this.options.events.append(
      asset.user_id,
      {
        type: 'custom',
        asset_id: asset.asset_id,
        external_id: `x402:receipt:${proof.paymentHash}`,
        data: { kind: 'x402_receipt', rail: 'lightning', payment_id: outcome.payment.payment_id, payment_hash: proof.paymentHash, network: proof.network },
      },
      'x402',
    );
    if (receipt.duplicate) return refuse('this invoice was already redeemed (each invoice is accepted once)', 'invoice_already_redeemed');
    this.count('lightning', 'paid');
    const settledAt = Math.floor(Date.parse(outcome.payment.settled_at ?? new Date().toISOString()) / 1000);
    const response = {
      success: true,
      transaction: proof.paymentHash,
      network: proof.network,
      payer: LIGHTNING_PAY_TO,
      extra: { invoice: proof.invoice, settledAt },
    };
    return {
      status: 200,
      body: paidBody(outcome.payment, { network: proof.network, transaction: proof.paymentHash, payer: LIGHTNING_PAY_TO }),
      headers: { [HEADER.response]: encodeHeader(response), [HEADER.responseV1]: encodeHeader(response) },
    };
  }

  // ------------------------------------------------------------------ helpers

  private async liveAsset(assetId: string): Promise<AssetRecord> {
    const asset = await this.options.machines.getAsset(assetId);
    if (!asset || asset.deleted_at !== null) throw new AppError(404, 'asset_not_found', `Asset ${assetId} does not exist`);
    return asset;
  }

  private refuseOffline(asset: AssetRecord): void {
    if (asset.refuse_when_offline && this.options.deviceState.isOnline(asset.asset_id) === false) {
      this.count('any', 'offline');
      throw new AppError(409, 'device_offline', `${asset.name} is offline right now; try again later. Nothing was charged.`, {
        headers: { 'Retry-After': '30' },
      });
    }
  }

  /** The terms on offer; a fresh Lightning invoice only for a first request (not for each refused payment). */
  private async offers(asset: AssetRecord, withInvoice: boolean): Promise<Offers> {
    const { networks, registry, domains, machines, invoices } = this.options;
    const resource: Resource = { url: this.options.resourceUrl(asset.asset_id), description: describeRun(asset), mimeType: 'application/json' };
    const evm = this.options.facilitator ? await evmOffers(asset, resource, { networks, registry, domains }) : [];
    let lightning: Offers['lightning'];
    if (withInvoice) {
      const account = await machines.getAccount(asset.user_id);
      if (account) lightning = await invoices.offer(asset, account);
    }
    return { resource, evm, lightning };
  }

  /** A 402: v1 body (EVM only: v1 clients know only their fixed networks) and the v2 header (EVM and Lightning). */
  private required(offers: Offers, error: string, reason?: string, payer?: string): PurchaseAnswer {
    const v2Accepts = [...offers.evm.map((o) => o.v2), ...(offers.lightning ? [offers.lightning] : [])];
    const v2 = { x402Version: 2, error, resource: offers.resource, accepts: v2Accepts };
    const body: Record<string, unknown> = { x402Version: 1, error, accepts: offers.evm.map((o) => o.v1) };
    if (reason !== undefined) body['invalidReason'] = reason;
    if (payer) body['payer'] = payer;
    return { status: 402, body, headers: { [HEADER.required]: encodeHeader(v2) } };
  }

  /** Both versions' settlement headers (v2 clients read PAYMENT-RESPONSE, v1 clients X-PAYMENT-RESPONSE). */
  private responseHeaders(settled: Pick<SettleAnswer, 'success' | 'transaction' | 'network' | 'payer' | 'errorReason' | 'pending'>): Record<string, string> {
    const response = {
      success: settled.success,
      transaction: settled.transaction,
      network: settled.network,
      payer: settled.payer,
      ...(settled.errorReason ? { errorReason: settled.errorReason } : {}),
      ...(settled.pending ? { pending: true } : {}),
    };
    const encoded = encodeHeader(response);
    return { [HEADER.response]: encoded, [HEADER.responseV1]: encoded };
  }

  private count(rail: string, outcome: string): void {
    this.options.metrics?.x402Purchase(rail, outcome);
  }
}

function paidBody(payment: PaymentRecord, settlement: { network: string; transaction: string; payer: string }): Record<string, unknown> {
  return {
    status: 'paid',
    payment_id: payment.payment_id,
    asset_id: payment.asset_id,
    rail: payment.rail,
    duration_ms: payment.duration_ms,
    network: settlement.network,
    transaction: settlement.transaction,
    payer: settlement.payer,
    settled_at: payment.settled_at,
  };
}

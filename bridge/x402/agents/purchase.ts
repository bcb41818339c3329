/**
 * Machines that agents buy over x402 (`GET /api/v1/assets/{id}/x402`). Without a payment the answer is
 * 402 with what the asset takes: its EVM prices (x402 v1 body and v2 `PAYMENT-REQUIRED` header) and a
 * Lightning invoice (v2 only, see lightning.ts). With a payment (`X-PAYMENT`, v1, or `PAYMENT-SIGNATURE`,
 * v2) it is checked against our own terms, never the payer's, then:
 * - EVM: verified, recorded as a pending payment (rail `x402`, keyed by the EIP-3009 authorization, durable
 *   before anything is sent), then settled in process through the `Facilitator` (no HTTP hop). When the
 *   receipt is late the answer is 202 and the payment stays pending: the settlement poll runs the machine
 *   once the facilitator's ledger holds the transfer settled (`transferState`), whether or not the payer
 *   sends the header again, and a crash while the transfer is on its way loses nothing. The same header
 *   again gets the run it paid for (200) until one 200 was given, then the replay refusal (402); the run is
 *   answered once per authorization with a `custom` event `x402:receipt:<key>`, as for Lightning;
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
import type { Settlement, X402Transfer } from '../../lightning/settlement.js';
import type { LightningStore } from '../../lightning/store.js';
import { x402PaymentKey, type PaymentRecord, type X402PaymentFacts } from '../../lightning/types.js';
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

/**
 * A payment recorded for a transfer the ledger has no row of after this long was never sent (the bridge
 * stopped between the record and the facilitator's claim, which follows within moments): nothing was charged.
 */
const UNSENT_AFTER_MS = 5 * 60_000;

export class AgentPurchases {
  private readonly options: AgentPurchasesOptions;

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
    let chosen: { offer: EvmOffer; request: FacilitatorRequest; from: string; nonce: string } | undefined;
    let refusal = { reason: 'invalid_payload', payer: '', details: '' };
    for (const offer of candidates) {
      const request = parseFacilitatorRequest({ x402Version: version, paymentPayload: payment, paymentRequirements: version === 1 ? offer.v1 : offer.v2 });
      if (isRequestProblem(request)) {
        refusal = { reason: request.code === 'INVALID_PAYLOAD' ? 'invalid_payload' : 'invalid_payment_requirements', payer: '', details: request.details };
        continue;
      }
      const authorization = exactEvmPayloadOf(request)?.authorization;
      if (!authorization) continue;
      // This authorization came here before: answer what became of it, never a second transfer or run (unless
      // nothing was ever sent for it: then it is verified and settled again).
      const earlier = await this.options.payments.getPaymentByHash(this.keyOf(offer, authorization.from, authorization.nonce));
      const answered = earlier && (await this.again(asset, offer, version, offers, earlier));
      if (answered) return answered;
      this.refuseOffline(asset);
      const verdict = await facilitator.verify(request);
      if (verdict.isValid) {
        chosen = { offer, request, from: authorization.from, nonce: authorization.nonce };
        break;
      }
      refusal = { reason: verdict.invalidReason || 'invalid_payload', payer: verdict.payer, details: '' };
    }
    if (!chosen) {
      this.count('evm', 'refused');
      return this.required(offers, refusal.details || refusal.reason, refusal.reason, refusal.payer);
    }
    const { offer, request, from, nonce } = chosen;
    // Recorded before anything is sent: whatever happens to this process, the poll finds the transfer's fate.
    const key = this.keyOf(offer, from, nonce);
    const facts: X402PaymentFacts = {
      network: network(offer, version),
      chain_id: offer.network.chainId,
      asset: offer.price.asset,
      amount: offer.price.amount,
      pay_to: offer.v2.payTo,
      payer: from,
      transaction: '',
      nonce,
    };
    const recorded = await this.options.settlement.recordX402Pending({
      userId: asset.user_id,
      assetId: asset.asset_id,
      durationMs: asset.duration_ms,
      key,
      facts,
    });
    // The same header sent twice at once: the other request sends it (unless it never did).
    const concurrent = !recorded.created && (await this.again(asset, offer, version, offers, recorded.payment));
    if (concurrent) return concurrent;
    // A throw (the RPC did not answer: the route's 500) leaves the payment pending: the same header settles it
    // again, and the poll gives it up if nothing was ever sent.
    const settled = await facilitator.settle(request);
    if (!settled.success && (settled.pending || settled.errorReason === 'settlement_pending')) {
      // Sent, receipt not yet seen: never a failure that invites the payer to sign again. The poll settles
      // the payment (and runs the machine) once the ledger holds the transfer settled.
      return this.pendingAnswer(asset, settled);
    }
    if (!settled.success) {
      // Settled already by another call with this very payload (the facilitator API): the owner was paid by it.
      const transfer = await this.transferState(recorded.payment);
      if (transfer.state === 'settled') return this.runPaid(asset, offers, recorded.payment, network(offer, version), transfer.transaction);
      // Nothing was charged by this request: the recorded payment is given up.
      await this.options.payments.expirePayment(key);
      if (settled.errorReason === 'nonce_already_used') {
        this.count('evm', 'refused');
        return this.required(offers, 'this authorization was already used', 'nonce_already_used', settled.payer);
      }
      this.count('evm', 'settle_failed');
      log.warn({ assetId: asset.asset_id, reason: settled.errorReason, network: settled.network }, 'x402 settle failed');
      return this.required(offers, settled.errorReason || 'unexpected_settle_error', settled.errorReason || 'unexpected_settle_error', settled.payer);
    }
    return this.runPaid(asset, offers, recorded.payment, settled.network, settled.transaction);
  }

  /**
   * The transfer of a recorded payment is on chain: settle the payment (the machine runs) and answer the run.
   * A store that fails now leaves it pending for the poll, and the answer is 202: the payer must not pay again.
   */
  private async runPaid(asset: AssetRecord, offers: Offers, recorded: PaymentRecord, network: string, transaction: string): Promise<PurchaseAnswer> {
    const facts = { ...(recorded.x402 as X402PaymentFacts), transaction };
    let outcome;
    try {
      outcome = await this.options.settlement.settle(recorded.payment_hash, null, facts);
    } catch (err) {
      this.options.log.error(
        { err, paymentId: recorded.payment_id, transaction },
        'x402 transfer settled but its payment could not be recorded yet; the poll settles it',
      );
      return this.pendingAnswer(asset, { transaction, network, payer: facts.payer, errorReason: 'settlement_pending' });
    }
    return this.answerRun(asset, offers, outcome.payment, network);
  }

  /**
   * A header whose authorization this route recorded before: the run it paid for (200, once), the replay
   * refusal after that (402), 202 while its transfer waits for a block, or 402 when the transfer failed.
   * Undefined when nothing was ever sent for it (the facilitator never took it): it may be settled again.
   */
  private async again(asset: AssetRecord, offer: EvmOffer, version: 1 | 2, offers: Offers, earlier: PaymentRecord): Promise<PurchaseAnswer | undefined> {
    const net = network(offer, version);
    const payer = earlier.x402?.payer ?? '';
    if (earlier.asset_id !== asset.asset_id || earlier.rail !== 'x402' || !earlier.x402) {
      this.count('evm', 'refused');
      return this.required(offers, 'this authorization already paid for a run', 'nonce_already_used', payer);
    }
    if (earlier.status === 'pending') {
      // Ask the ledger now rather than wait for the poll.
      const transfer = await this.transferState(earlier);
      if (transfer.state === 'settled') return this.runPaid(asset, offers, earlier, net, transfer.transaction);
      if (transfer.state === 'waiting' && transfer.unsent) return undefined;
      if (transfer.state === 'waiting') {
        return this.pendingAnswer(asset, {
          transaction: transfer.transaction ?? earlier.x402.transaction,
          network: net,
          payer,
          errorReason: 'settlement_pending',
        });
      }
      await this.options.payments.expirePayment(earlier.payment_hash);
    } else if (earlier.status === 'settled') {
      return this.answerRun(asset, offers, earlier, net);
    }
    this.count('evm', 'settle_failed');
    return this.required(offers, 'the transfer of this authorization failed and nothing was charged: sign a new one', 'invalid_transaction_state', payer);
  }

  /**
   * What the facilitator's ledger says of the transfer of an x402 payment this route recorded (the settlement
   * poll asks this of every pending one: `Settlement.watchX402Transfers`).
   */
  async transferState(payment: PaymentRecord): Promise<X402Transfer> {
    const facts = payment.x402;
    const ledger = this.options.ledger;
    if (!facts || facts.nonce === undefined || !ledger) return { state: 'waiting' };
    const chainId = facts.chain_id ?? this.options.networks.find((n) => n.network === facts.network || `eip155:${n.chainId}` === facts.network)?.chainId;
    if (chainId === undefined) return { state: 'waiting' };
    const row = await ledger.get(settlementKey(chainId, facts.asset, facts.payer, facts.nonce));
    if (!row) return Date.now() - Date.parse(payment.created) > UNSENT_AFTER_MS ? { state: 'failed' } : { state: 'waiting', unsent: true };
    // Only a transfer of the price to the asset's payee pays for the run: an authorization with the same payer
    // and nonce that pays someone else (it holds the ledger key, or used the nonce on chain) never does.
    const ours = facts.pay_to === undefined || (row.pay_to === facts.pay_to.toLowerCase() && BigInt(row.value) >= BigInt(facts.amount));
    if (!ours || row.state === 'failed') return { state: 'failed' };
    if (row.state === 'settled') return { state: 'settled', transaction: row.tx_hash ?? '' };
    return { state: 'waiting', transaction: row.tx_hash ?? '' };
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

  /** Answer the run a settled payment paid for: 200 the first time, the replay refusal after that. */
  private async answerRun(asset: AssetRecord, offers: Offers, paid: PaymentRecord, network: string): Promise<PurchaseAnswer> {
    const payer = paid.x402?.payer ?? '';
    const transaction = paid.x402?.transaction ?? '';
    const receipt = await this.options.events.append(
      asset.user_id,
      {
        type: 'custom',
        asset_id: asset.asset_id,
        external_id: `x402:receipt:${paid.payment_hash}`,
        data: { kind: 'x402_receipt', rail: 'x402', payment_id: paid.payment_id, transaction, network },
      },
      'x402',
    );
    if (receipt.duplicate) {
      this.count('evm', 'refused');
      return this.required(offers, 'this authorization already paid for a run', 'nonce_already_used', payer);
    }
    this.count('evm', 'paid');
    return {
      status: 200,
      body: paidBody(paid, { network, transaction, payer }),
      headers: this.responseHeaders({ success: true, transaction, network, payer, errorReason: '' }),
    };
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

/** The network as the payer named it: a v1 name, or a CAIP-2 id for v2. */
function network(offer: EvmOffer, version: 1 | 2): string {
  return version === 1 ? offer.v1.network : offer.v2.network;
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

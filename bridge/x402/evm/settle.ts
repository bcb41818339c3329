/**
 * Settling an `exact` EVM payment so that it can never charge twice (x402 `scheme_exact_evm.md` "Settlement
 * Logic": the fee payer calls EIP-3009 `transferWithAuthorization` with the payer's signature):
 * - one authorization, one ledger row (ledger.ts): the row is claimed before anything is sent; a second settle of
 *   the same payload in this process joins the first and gets its answer; one arriving after it finished is
 *   refused (`nonce_already_used`) with the first transaction; another bridge on the same PostgreSQL finds the
 *   row claimed;
 * - the call is simulated (`eth_estimateGas`) before it is sent, so a revert costs no gas;
 * - a receipt that does not arrive within the network's `receiptTimeoutMs` is answered as pending
 *   (`settlement_pending`, with the transaction hash) and left to the reconciler — never as a failure that would
 *   invite the payer to sign again;
 * - a fee payer without gas money is `fee_payer_out_of_gas` (nothing sent, the row may be claimed again).
 */
import { encodeFunctionData, WaitForTransactionReceiptTimeoutError, type Hex } from 'viem';
import type { X402SettlementRecord } from '../ledger.js';
import type { FacilitatorRequest, SettleAnswer } from '../types.js';
import { EIP3009_ABI } from './abi.js';
import { errorText, isOutOfGasFunds, isTransportError, type FeePayer, gasFee } from './fee-payer.js';
import type { X402Metrics } from './metrics.js';
import { REASON, type Reason } from './reasons.js';
import { revertReason } from './revert.js';
import { locate, requestNetworkOf, verifyExact, type Checked, type VerifyContext } from './verify.js';

export interface SettleContext extends VerifyContext {
  feePayers: Map<number, FeePayer>;
  metrics?: X402Metrics | undefined;
  /** Called when a claim is made (the verify cache forgets the authorization). */
  onClaim?: (key: string) => void;
  /** Called once a row is settled (here or by the reconciler). */
  /** A settlement is confirmed; `fee` is the gas it cost (wei, decimal) when known. */
  onSettled?: (record: X402SettlementRecord, fee?: string) => void;
}

const iso = (): string => new Date().toISOString();

/** The transfer's hash once it is sent (the deploy step of ERC-6492 wallets does not count). */
interface Progress {
  sent?: Hex;
  /** Gas paid so far (wei): a wallet's deployment, then the transfer. */
  feeWei?: bigint;
}

function answer(network: string, payer: string, fields: Partial<SettleAnswer>): SettleAnswer {
  return {
    success: false,
    transaction: '',
    errorReason: '',
    network,
    payer,
    blockNumber: 0,
    timestamp: iso(),
    ...fields,
  };
}

/** The answer for a row someone else holds: settled → refused with its transaction; in flight → pending. */
/** Whether a ledger row is this authorization's: the same payee and value (the key already names token, payer and nonce). */
function sameTerms(row: X402SettlementRecord, checked: Checked): boolean {
  const a = checked.payload.authorization;
  return row.pay_to === a.to.toLowerCase() && BigInt(row.value) === BigInt(a.value);
}

function answerForRow(network: string, row: X402SettlementRecord, payer: string): SettleAnswer {
  if (row.state === 'settled') {
    return answer(network, payer, { errorReason: REASON.nonceUsed, transaction: row.tx_hash ?? '', blockNumber: row.block_number ?? 0 });
  }
  if (row.state === 'failed') return answer(network, payer, { errorReason: row.error_reason ?? REASON.settleError, transaction: row.tx_hash ?? '' });
  return answer(network, payer, { errorReason: REASON.pending, transaction: row.tx_hash ?? '', pending: true });
}

export class Settler {
  private readonly ctx: SettleContext;
  private readonly inflight = new Map<string, Promise<SettleAnswer>>();

  constructor(ctx: SettleContext) {
    this.ctx = ctx;
  }

  /** Whether this process is settling the key right now (the reconciler leaves it alone). */
  isInflight(key: string): boolean {
    return this.inflight.has(key);
  }

  async settle(request: FacilitatorRequest): Promise<SettleAnswer> {
    const network = requestNetworkOf(request);
    const located = await locate(this.ctx, request);
    if ('reason' in located) return answer(network, located.payer, { errorReason: located.reason });
    const key = located.checked.key;
    const joined = this.inflight.get(key);
    if (joined) return joined;
    const run = this.run(request, network, located.checked);
    this.inflight.set(key, run);
    try {
      return await run;
    } finally {
      this.inflight.delete(key);
    }
  }

  private async run(request: FacilitatorRequest, network: string, located: Checked): Promise<SettleAnswer> {
    const { ledger, log } = this.ctx;
    const existing = await ledger.get(located.key);
    if (existing && existing.state !== 'failed') return this.held(network, located, existing);
    const outcome = await verifyExact(this.ctx, request, { ledger: false });
    if (!outcome.valid) {
      this.ctx.metrics?.settlement(located.network.network, 'refused');
      return answer(network, outcome.payer, { errorReason: outcome.reason, transaction: outcome.ledgerRow?.tx_hash ?? '' });
    }
    const { checked } = outcome;
    const a = checked.payload.authorization;
    const feePayer = this.ctx.feePayers.get(checked.network.chainId);
    if (!feePayer) return answer(network, a.from, { errorReason: REASON.invalidNetwork });
    const now = iso();
    const claim = await ledger.claim({
      key: checked.key,
      chain_id: checked.network.chainId,
      network: checked.network.network,
      token: checked.token.toLowerCase(),
      payer: a.from.toLowerCase(),
      nonce: a.nonce.toLowerCase(),
      pay_to: a.to.toLowerCase(),
      value: a.value,
      x402_version: request.x402Version,
      fee_payer: feePayer.address.toLowerCase(),
      state: 'sending',
      tx_hash: null,
      block_number: null,
      error_reason: null,
      created: now,
      updated: now,
    });
    if (!claim.claimed) return this.held(network, checked, claim.record);
    this.ctx.onClaim?.(checked.key);
    const progress: Progress = {};
    try {
      return await this.send(network, checked, feePayer, progress);
    } catch (err) {
      if (progress.sent) {
        // The transfer is out (the store or the RPC failed after): pending, never a failure that invites a second signature.
        log.error({ err: errorText(err), network: checked.network.network, transaction: progress.sent }, 'x402 settlement sent, then an error; left pending');
        this.ctx.metrics?.settlement(checked.network.network, 'pending');
        return answer(network, a.from, { errorReason: REASON.pending, transaction: progress.sent, pending: true });
      }
      // Nothing was sent: nothing charged; the row may be claimed again.
      log.error({ err: errorText(err), network: checked.network.network, payer: a.from }, 'x402 settlement failed unexpectedly');
      await ledger.update(checked.key, { state: 'failed', error_reason: REASON.settleError, updated: iso() }, 'sending').catch(() => undefined);
      this.ctx.metrics?.settlement(checked.network.network, 'error');
      return answer(network, a.from, { errorReason: REASON.settleError });
    }
  }

  /**
   * The key is held by another settle (another bridge on the same database, or one before a restart). Done
   * already: refused with its transaction. Still in flight: a concurrent duplicate, which waits for it (up to the
   * receipt timeout) and gets its outcome, the same transaction.
   */
  private async held(network: string, checked: Checked, row: X402SettlementRecord): Promise<SettleAnswer> {
    const payer = checked.payload.authorization.from;
    // Another authorization with the same payer and nonce (to someone else, or for another amount) holds the
    // key: whatever becomes of it, this one can never be settled, and its outcome is not this one's.
    if (!sameTerms(row, checked)) return answer(network, payer, { errorReason: REASON.nonceUsed });
    if (row.state === 'settled' || row.state === 'failed') return answerForRow(network, row, payer);
    const deadline = Date.now() + checked.network.receiptTimeoutMs;
    let current: X402SettlementRecord | undefined = row;
    while (current && (current.state === 'sending' || current.state === 'pending') && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, Math.max(20, checked.network.pollingIntervalMs)));
      current = await this.ctx.ledger.get(checked.key);
    }
    if (current?.state === 'settled') {
      return answer(network, payer, { success: true, transaction: current.tx_hash ?? '', blockNumber: current.block_number ?? 0 });
    }
    return answerForRow(network, current ?? row, payer);
  }

  private async fail(network: string, checked: Checked, reason: Reason, tx: string | null = null): Promise<SettleAnswer> {
    await this.ctx.ledger.update(checked.key, { state: 'failed', error_reason: reason, tx_hash: tx, updated: iso() });
    this.ctx.metrics?.settlement(checked.network.network, reason === REASON.feePayerOutOfGas ? 'out_of_gas' : 'failed');
    return answer(network, checked.payload.authorization.from, { errorReason: reason, transaction: tx ?? '' });
  }

  private async send(network: string, checked: Checked, feePayer: FeePayer, progress: Progress): Promise<SettleAnswer> {
    const { ledger, log } = this.ctx;
    const net = checked.network;
    const a = checked.payload.authorization;
    let signature = checked.payload.signature;
    // ERC-6492: deploy the counterfactual wallet first (only through an allowed factory; verify checked it).
    if (checked.erc6492) {
      signature = checked.erc6492.inner;
      if (!(await net.hasCode(a.from))) {
        const deployed = await this.transact(network, checked, feePayer, checked.erc6492.factory, checked.erc6492.data, false, progress);
        if (deployed !== true) return deployed;
      }
    }
    const data = encodeFunctionData({
      abi: EIP3009_ABI,
      functionName: 'transferWithAuthorization',
      args: [a.from, a.to, BigInt(a.value), BigInt(a.validAfter), BigInt(a.validBefore), a.nonce, signature],
    });
    const sent = await this.transact(network, checked, feePayer, checked.token, data, true, progress);
    if (sent === true) throw new Error('unreachable');
    if (sent.success) {
      log.info({ network: net.network, payer: a.from, transaction: sent.transaction, block: sent.blockNumber }, 'x402 payment settled');
    }
    return sent;
  }

  /**
   * Simulate, send and await one fee-payer transaction. For the deploy step (`final` false) success is `true`;
   * for the transfer it is the settle answer (and the ledger row is moved accordingly).
   */
  private async transact(
    network: string,
    checked: Checked,
    feePayer: FeePayer,
    to: Hex,
    data: Hex,
    final: boolean,
    progress: Progress,
  ): Promise<SettleAnswer | true> {
    const net = checked.network;
    const { ledger } = this.ctx;
    let gas: bigint;
    try {
      gas = await net.client.estimateGas({ account: feePayer.address, to, data });
    } catch (err) {
      if (isOutOfGasFunds(err)) return this.outOfGas(network, checked, err);
      // The RPC did not answer: unexpected, not a revert (run() marks the row failed, retryable).
      if (isTransportError(err)) throw err;
      return this.fail(network, checked, final ? revertReason(err) : REASON.transactionState);
    }
    let hash: Hex;
    let signed: Hex | undefined;
    try {
      // 20% headroom over the estimate.
      hash = await feePayer.submit({ to, data, gas: (gas * 12n) / 10n }, (h) => (signed = h));
    } catch (err) {
      if (isOutOfGasFunds(err)) return this.outOfGas(network, checked, err);
      // No answer from the RPC: the signed transfer may be out all the same. Pending under its hash (the
      // reconciler looks it up, then asks the token), never a failure that would let it be sent again.
      if (final && signed && isTransportError(err)) {
        progress.sent = signed;
        await ledger.update(checked.key, { state: 'pending', tx_hash: signed, error_reason: REASON.pending, updated: iso() });
        this.ctx.log.warn(
          { err: errorText(err), network: net.network, transaction: signed },
          'x402 transfer sent without an answer from the RPC; left pending',
        );
        this.ctx.metrics?.settlement(net.network, 'pending');
        return answer(network, checked.payload.authorization.from, { errorReason: REASON.pending, transaction: signed, pending: true });
      }
      throw err;
    }
    if (final) {
      progress.sent = hash;
      await ledger.update(checked.key, { state: 'pending', tx_hash: hash, error_reason: REASON.pending, updated: iso() });
    }
    const payer = checked.payload.authorization.from;
    let receipt;
    try {
      receipt = await net.client.waitForTransactionReceipt({ hash, timeout: net.receiptTimeoutMs, pollingInterval: net.pollingIntervalMs, retryCount: 0 });
    } catch (err) {
      if (!(err instanceof WaitForTransactionReceiptTimeoutError))
        this.ctx.log.warn({ err: errorText(err), hash }, 'x402 receipt lookup failed; left to the reconciler');
      // The wallet's deployment is not confirmed: nothing was charged; the payload may be settled again.
      if (!final) return this.fail(network, checked, REASON.settleError);
      this.ctx.metrics?.settlement(net.network, 'pending');
      // Sent, not confirmed in time: pending, reconciled later. Never a failure that invites a second signature.
      return answer(network, payer, { errorReason: REASON.pending, transaction: hash, pending: true });
    }
    progress.feeWei = (progress.feeWei ?? 0n) + gasFee(receipt);
    if (receipt.status !== 'success') return this.fail(network, checked, REASON.transactionState, hash);
    if (!final) return true;
    const row = await ledger.update(checked.key, { state: 'settled', block_number: Number(receipt.blockNumber), error_reason: null, updated: iso() });
    this.ctx.metrics?.settlement(net.network, 'settled');
    const fee = progress.feeWei.toString();
    if (row) this.ctx.onSettled?.(row, fee);
    return answer(network, payer, { success: true, transaction: hash, blockNumber: Number(receipt.blockNumber), fee });
  }

  private async outOfGas(network: string, checked: Checked, err: unknown): Promise<SettleAnswer> {
    this.ctx.log.error(
      { network: checked.network.network, feePayer: checked.network.feePayer, err: errorText(err) },
      'x402 fee payer cannot pay for gas: fund it; settlements fail until then',
    );
    return this.fail(network, checked, REASON.feePayerOutOfGas);
  }
}

/**
 * The background reconciler of settlements left unfinished: a `pending` row (sent, receipt not seen in time) is
 * looked up until its receipt arrives (→ `settled` or, reverted, `failed`); a transaction the node no longer
 * knows after `dropAfterMs` is settled or failed by the token's own word (`authorizationState`). A `sending` row
 * older than `sendingGraceMs` that no settle of this process holds (a crash between claim and send) is resolved
 * the same way. Rows are changed only from the state they were read in.
 */
import type { Logger } from 'pino';
import { parseAbiItem, parseEventLogs, TransactionNotFoundError, TransactionReceiptNotFoundError, type Address, type Hex } from 'viem';
import type { X402SettlementLedger, X402SettlementRecord } from '../ledger.js';
import { errorText, gasFee } from './fee-payer.js';
import type { X402Metrics } from './metrics.js';
import type { EvmNetwork } from './network.js';
import { REASON } from './reasons.js';

// EIP-3009: emitted once per authorization, by the transaction that used it.
const AUTHORIZATION_USED = parseAbiItem('event AuthorizationUsed(address indexed authorizer, bytes32 indexed nonce)');
const TRANSFER = parseAbiItem('event Transfer(address indexed from, address indexed to, uint256 value)');
/** How far back the reconciler looks for that log (~5.5 hours of Base's 2-second blocks; rows wait minutes). */
const USED_LOOKBACK_BLOCKS = 10_000n;
/** Blocks per eth_getLogs call of that look-back. */
const LOGS_SPAN = 1_000n;

export interface ReconcilerOptions {
  ledger: X402SettlementLedger;
  networks: Map<number, EvmNetwork>;
  log: Logger;
  isInflight: (key: string) => boolean;
  intervalMs?: number;
  sendingGraceMs?: number;
  dropAfterMs?: number;
  batch?: number;
  metrics?: X402Metrics | undefined;
  /** A pending settlement is confirmed (`fee`: its gas, wei, decimal, when the receipt said), or failed. */
  onSettled?: (record: X402SettlementRecord, fee?: string) => void;
  onFailed?: (record: X402SettlementRecord) => void;
}

export class Reconciler {
  private readonly o: ReconcilerOptions;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;
  private stopped = false;

  constructor(options: ReconcilerOptions) {
    this.o = options;
  }

  start(): void {
    if (this.timer || this.o.networks.size === 0) return;
    this.timer = setInterval(
      () => void this.runOnce().catch((err: unknown) => this.o.log.warn({ err: errorText(err) }, 'x402 reconciler pass failed')),
      this.o.intervalMs ?? 5_000,
    );
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }

  /** One pass; returns how many rows it finished. */
  runOnce(): Promise<number> {
    this.running ??= this.pass().finally(() => (this.running = undefined));
    return this.running;
  }

  private async pass(): Promise<number> {
    let done = 0;
    for (const row of await this.o.ledger.listUnfinished(this.o.batch ?? 100)) {
      if (this.stopped) break;
      if (this.o.isInflight(row.key)) continue;
      const network = this.o.networks.get(row.chain_id);
      if (!network) continue;
      try {
        if (await this.reconcile(network, row)) done++;
      } catch (err) {
        this.o.log.warn({ err: errorText(err), network: row.network, transaction: row.tx_hash }, 'x402 reconcile of a settlement failed; retried next pass');
      }
    }
    return done;
  }

  private async reconcile(network: EvmNetwork, row: X402SettlementRecord): Promise<boolean> {
    const age = Date.now() - Date.parse(row.updated);
    if (row.state === 'pending' && row.tx_hash) {
      const hash = row.tx_hash as Hex;
      try {
        const receipt = await network.client.getTransactionReceipt({ hash });
        if (receipt.status === 'success') return this.settle(row, hash, Number(receipt.blockNumber), gasFee(receipt).toString());
        return this.finish(row, { state: 'failed', error_reason: REASON.transactionState });
      } catch (err) {
        if (!(err instanceof TransactionReceiptNotFoundError)) throw err;
      }
      if (age < (this.o.dropAfterMs ?? 600_000)) return false;
      try {
        await network.client.getTransaction({ hash });
        return false; // Still known to the node: wait.
      } catch (err) {
        if (!(err instanceof TransactionNotFoundError)) throw err;
      }
    } else if (row.state !== 'sending' || age < (this.o.sendingGraceMs ?? 60_000)) {
      return false;
    }
    // Dropped or never sent: the token says whether the authorization was used.
    const used = await network.client.readContract({
      address: row.token as Address,
      abi: [
        {
          type: 'function',
          name: 'authorizationState',
          stateMutability: 'view',
          inputs: [{ type: 'address' }, { type: 'bytes32' }],
          outputs: [{ type: 'bool' }],
        },
      ],
      functionName: 'authorizationState',
      args: [row.payer as Address, row.nonce as Hex],
    });
    if (used) {
      // Which transaction used it: ours whose hash the store never took, or another's.
      const found = await this.whoUsed(network, row);
      // The RPC did not answer: ask again at the next pass rather than settle blind.
      if (found === 'unknown') return false;
      // Used by another authorization with the same nonce (paying someone else): nothing was paid to this row's payee.
      if (found === 'foreign') return this.finish(row, { state: 'failed', error_reason: REASON.nonceUsed });
      return this.settle(row, found?.hash ?? row.tx_hash, found?.block ?? row.block_number ?? 0, found?.fee);
    }
    return this.finish(row, { state: 'failed', error_reason: row.state === 'pending' ? REASON.transactionState : REASON.settleError });
  }

  /**
   * The transaction that used the row's authorization, from the token's EIP-3009 `AuthorizationUsed` log in the
   * last USED_LOOKBACK_BLOCKS blocks, with what it cost when the fee payer sent it. `foreign` when that
   * transaction moved no `value` from the payer to the row's payee (an authorization with the same nonce paid
   * someone else); undefined when no log is found (the row is then settled without a transaction: the nonce is
   * used); `unknown` when the RPC does not answer.
   */
  private async whoUsed(
    network: EvmNetwork,
    row: X402SettlementRecord,
  ): Promise<{ hash: Hex; block: number; fee?: string } | 'foreign' | 'unknown' | undefined> {
    try {
      const latest = await network.client.getBlockNumber({ cacheTime: 0 });
      const oldest = latest >= USED_LOOKBACK_BLOCKS ? latest - USED_LOOKBACK_BLOCKS + 1n : 0n;
      // Newest first, in spans that providers capping eth_getLogs at 1,000 or more blocks accept.
      let hash: Hex | undefined;
      for (let to = latest; to >= oldest && !hash; to -= LOGS_SPAN) {
        const from = to - LOGS_SPAN + 1n > oldest ? to - LOGS_SPAN + 1n : oldest;
        const logs = await network.client.getLogs({
          address: row.token as Address,
          event: AUTHORIZATION_USED,
          args: { authorizer: row.payer as Address, nonce: row.nonce as Hex },
          fromBlock: from,
          toBlock: to,
        });
        hash = logs.at(-1)?.transactionHash ?? undefined;
        if (from === 0n) break;
      }
      if (!hash) return undefined;
      const receipt = await network.client.getTransactionReceipt({ hash });
      const transfers = parseEventLogs({ abi: [TRANSFER], logs: receipt.logs, eventName: 'Transfer', strict: true });
      const paid = transfers.some(
        (t) =>
          t.address.toLowerCase() === row.token &&
          t.args.from.toLowerCase() === row.payer &&
          t.args.to.toLowerCase() === row.pay_to &&
          t.args.value === BigInt(row.value),
      );
      if (!paid) return 'foreign';
      const ours = network.feePayer !== '' && receipt.from.toLowerCase() === network.feePayer.toLowerCase();
      return { hash, block: Number(receipt.blockNumber), ...(ours ? { fee: gasFee(receipt).toString() } : {}) };
    } catch (err) {
      this.o.log.warn(
        { err: errorText(err), network: row.network, payer: row.payer },
        'x402 reconcile: could not find the transaction that used an authorization; asking again at the next pass',
      );
      return 'unknown';
    }
  }

  private async settle(row: X402SettlementRecord, hash: string | null, block: number, fee?: string): Promise<boolean> {
    const updated = await this.o.ledger.update(
      row.key,
      { state: 'settled', tx_hash: hash, block_number: block, error_reason: null, updated: new Date().toISOString() },
      row.state,
    );
    if (!updated) return false;
    this.o.metrics?.settlement(row.network, 'settled');
    this.o.log.info({ network: row.network, payer: row.payer, transaction: hash, block }, 'x402 pending settlement confirmed');
    this.o.onSettled?.(updated, fee);
    return true;
  }

  private async finish(row: X402SettlementRecord, patch: { state: 'failed'; error_reason: string }): Promise<boolean> {
    const updated = await this.o.ledger.update(row.key, { ...patch, updated: new Date().toISOString() }, row.state);
    if (!updated) return false;
    this.o.metrics?.settlement(row.network, 'failed');
    this.o.log.warn({ network: row.network, payer: row.payer, transaction: row.tx_hash, reason: patch.error_reason }, 'x402 pending settlement failed');
    this.o.onFailed?.(updated);
    return true;
  }
}

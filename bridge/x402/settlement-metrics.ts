/**
 * x402 settlement metrics (`/x402-metrics/daily|monthly|summary`): what each `/settle` answered,
 * recorded once per transaction (a repeated settle of one payload answers the first transaction
 * again and is not counted twice), summed by day or month, network and asset. Amounts are atomic
 * units (decimal strings, summed as bigints); fees are the gas the facilitator paid, in wei (gasUsed ×
 * effectiveGasPrice of the settlement's transactions, known once mined). A settlement answered pending is
 * resolved later, when the facilitator sees it mined (succeeded, with its fee) or failed.
 */
import type { Logger } from 'pino';
import { getAddress, isAddress } from 'viem';
import { newId } from '../ids.js';
import type { ClientKeyRecord, SettlementMetricRecord, X402Store } from './store.js';
import type { FacilitatorRequest, SettleAnswer } from './types.js';

export interface SettlementTotals {
  settlements: number;
  succeeded: number;
  failed: number;
  pending: number;
  /** Atomic units of the asset, decimal string. */
  amount: string;
  /** Wei, decimal string. */
  fees: string;
}

export interface SettlementGroup extends SettlementTotals {
  network: string;
  asset: string;
}

const DECIMAL = /^\d{1,78}$/;

/** The value the payer authorised (EIP-3009 `value`), else the amount the requirements ask. */
function amountOf(request: FacilitatorRequest): string {
  const payload = request.paymentPayload.payload as { authorization?: { value?: unknown } };
  const value = payload.authorization?.value;
  if (typeof value === 'string' && DECIMAL.test(value)) return value;
  const asked = request.x402Version === 1 ? request.paymentRequirements.maxAmountRequired : request.paymentRequirements.amount;
  return DECIMAL.test(asked) ? asked : '0';
}

export class SettlementMetrics {
  private readonly store: X402Store;
  private readonly log: Logger;

  constructor(store: X402Store, log: Logger) {
    this.store = store;
    this.log = log;
  }

  /** Record a settle answer; a failure to record is logged, never turned into a failed settle. */
  async record(client: ClientKeyRecord, request: FacilitatorRequest, answer: SettleAnswer): Promise<void> {
    const fee = (answer as SettleAnswer & { fee?: unknown }).fee;
    const record: SettlementMetricRecord = {
      id: answer.transaction !== '' ? answer.transaction.toLowerCase() : `failed:${newId(20)}`,
      user_id: client.user_id,
      client_id: client.client_id,
      network: answer.network || request.paymentRequirements.network,
      asset: isAddress(request.paymentRequirements.asset, { strict: false })
        ? getAddress(request.paymentRequirements.asset)
        : request.paymentRequirements.asset,
      amount: answer.success || answer.pending === true ? amountOf(request) : '0',
      fee: typeof fee === 'string' && DECIMAL.test(fee) ? fee : '0',
      success: answer.success,
      pending: answer.pending === true,
      created: new Date().toISOString(),
    };
    try {
      await this.store.addSettlement(record);
    } catch (err) {
      this.log.warn({ err, transaction: answer.transaction }, 'could not record x402 settlement metrics');
    }
  }

  /** A transaction answered pending was mined (or failed): its record is no longer pending. */
  async resolved(transaction: string, outcome: { success: boolean; fee?: string }): Promise<void> {
    try {
      await this.store.resolveSettlement(transaction.toLowerCase(), {
        success: outcome.success,
        ...(outcome.fee !== undefined && DECIMAL.test(outcome.fee) ? { fee: outcome.fee } : {}),
      });
    } catch (err) {
      this.log.warn({ err, transaction }, 'could not resolve an x402 settlement in the metrics');
    }
  }

  list(userId: number | undefined, from: string, to: string): Promise<SettlementMetricRecord[]> {
    return this.store.settlements(userId, from, to);
  }
}

export function settlementTotals(records: SettlementMetricRecord[]): SettlementTotals {
  let amount = 0n;
  let fees = 0n;
  let succeeded = 0;
  let pending = 0;
  for (const r of records) {
    amount += BigInt(r.amount);
    fees += BigInt(r.fee);
    if (r.pending) pending += 1;
    else if (r.success) succeeded += 1;
  }
  return { settlements: records.length, succeeded, failed: records.length - succeeded - pending, pending, amount: amount.toString(), fees: fees.toString() };
}

/** Totals per network and asset, in that order. */
export function byNetworkAndAsset(records: SettlementMetricRecord[]): SettlementGroup[] {
  const groups = new Map<string, SettlementMetricRecord[]>();
  for (const r of records) {
    const k = `${r.network}\u0000${r.asset.toLowerCase()}`;
    const list = groups.get(k);
    if (list) list.push(r);
    else groups.set(k, [r]);
  }
  return [...groups.values()]
    .map((list) => ({ network: (list[0] as SettlementMetricRecord).network, asset: (list[0] as SettlementMetricRecord).asset, ...settlementTotals(list) }))
    .sort((a, b) => (a.network === b.network ? (a.asset < b.asset ? -1 : 1) : a.network < b.network ? -1 : 1));
}

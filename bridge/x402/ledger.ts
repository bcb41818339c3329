/**
 * The settlement ledger: one row per EIP-3009 authorization the facilitator has tried to settle, keyed by
 * (chain id, token, payer, nonce) — the triple the token itself uses to refuse a second use (EIP-3009
 * `authorizationState(authorizer, nonce)`), so one authorization can never be sent twice.
 *
 * States: `sending` (claimed, the transaction being built and sent), `pending` (sent, no receipt yet: the
 * reconciler watches it), `settled` (receipt with status success), `failed` (nothing charged: refused before
 * sending, or the transaction reverted). Only a `failed` row may be claimed again.
 * Engines: bridge/store/journal/x402-settlements-store.ts, bridge/store/postgres/x402-settlements-store.ts
 * (migration 003_x402_settlements.sql); contract suite test/store/x402-settlements-store.test.ts.
 */

export type SettlementState = 'sending' | 'pending' | 'settled' | 'failed';

export interface X402SettlementRecord {
  /** `settlementKey(...)`. */
  key: string;
  chain_id: number;
  /** The v1 network name of the configured network. */
  network: string;
  /** Lowercase 0x addresses and nonce. */
  token: string;
  payer: string;
  nonce: string;
  pay_to: string;
  /** Token base units, decimal. */
  value: string;
  x402_version: number;
  fee_payer: string;
  state: SettlementState;
  tx_hash: string | null;
  block_number: number | null;
  /** Why it failed or is pending (`settlement_pending`, `fee_payer_out_of_gas`, …). */
  error_reason: string | null;
  created: string;
  updated: string;
}

export type SettlementPatch = Partial<Pick<X402SettlementRecord, 'state' | 'tx_hash' | 'block_number' | 'error_reason'>> & { updated: string };

export interface X402SettlementLedger {
  /**
   * Claim the key for sending: insert the record (state `sending`), or take over a `failed` row. When another row
   * holds the key (sending, pending or settled), nothing changes and that row is returned. Atomic on each engine.
   */
  claim(record: X402SettlementRecord): Promise<{ claimed: boolean; record: X402SettlementRecord }>;
  get(key: string): Promise<X402SettlementRecord | undefined>;
  /** Change a row; with `expect`, only when it is in that state (returns undefined otherwise). */
  update(key: string, patch: SettlementPatch, expect?: SettlementState): Promise<X402SettlementRecord | undefined>;
  /** Rows still `sending` or `pending`, oldest first, at most `limit`. */
  listUnfinished(limit: number): Promise<X402SettlementRecord[]>;
}

/** The ledger key of an authorization: `<chainId>:<token>:<payer>:<nonce>`, lowercase. */
export function settlementKey(chainId: number, token: string, payer: string, nonce: string): string {
  return `${chainId}:${token.toLowerCase()}:${payer.toLowerCase()}:${nonce.toLowerCase()}`;
}

/**
 * The x402 settlement ledger on PostgreSQL. A claim is one statement (`INSERT … ON CONFLICT DO UPDATE … WHERE
 * state = 'failed'`), so of any number of bridges claiming one authorization at once exactly one wins.
 */
import type { SettlementPatch, SettlementState, X402SettlementLedger, X402SettlementRecord } from '../../x402/ledger.js';
import type { Database, Statement } from './database.js';
import { columnList, fromRow, placeholders, select, toParams, type Columns } from './rows.js';

export const X402_SETTLEMENT: Columns = {
  key: 'text',
  chain_id: 'num',
  network: 'text',
  token: 'text',
  payer: 'text',
  nonce: 'text',
  pay_to: 'text',
  value: 'text',
  x402_version: 'num',
  fee_payer: 'text',
  state: 'text',
  tx_hash: 'text',
  block_number: 'num',
  error_reason: 'text',
  created: 'time',
  updated: 'time',
};

const updates = Object.keys(X402_SETTLEMENT)
  .filter((c) => c !== 'key')
  .map((c) => `${c} = EXCLUDED.${c}`)
  .join(', ');

const S = {
  claim: {
    name: 'x402_settlements_claim',
    text: `INSERT INTO x402_settlements (${columnList(X402_SETTLEMENT)}) VALUES (${placeholders(X402_SETTLEMENT)}) ON CONFLICT (key) DO UPDATE SET ${updates} WHERE x402_settlements.state = 'failed' RETURNING *`,
  },
  get: select('x402_settlements_get', 'SELECT * FROM x402_settlements WHERE key = $1'),
  unfinished: select('x402_settlements_unfinished', "SELECT * FROM x402_settlements WHERE state IN ('sending', 'pending') ORDER BY created, key LIMIT $1"),
};

const PATCHABLE = ['state', 'tx_hash', 'block_number', 'error_reason'] as const;
const CAST: Record<(typeof PATCHABLE)[number], string> = { state: 'text', tx_hash: 'text', block_number: 'bigint', error_reason: 'text' };

/** One prepared statement per set of patched fields (and whether the state is expected). */
function updateStatement(fields: readonly (typeof PATCHABLE)[number][], expect: boolean): Statement {
  const sets = [...fields.map((f, i) => `${f} = $${i + 2}::${CAST[f]}`), `updated = $${fields.length + 2}::timestamptz`];
  const where = expect ? ` AND state = $${fields.length + 3}::text` : '';
  return {
    name: `x402_settlements_update_${fields.join('_') || 'none'}${expect ? '_expect' : ''}`,
    text: `UPDATE x402_settlements SET ${sets.join(', ')} WHERE key = $1::text${where} RETURNING *`,
  };
}

export class PostgresX402SettlementsStore implements X402SettlementLedger {
  private readonly db: Database;

  constructor(db: Database) {
    this.db = db;
  }

  async claim(record: X402SettlementRecord): Promise<{ claimed: boolean; record: X402SettlementRecord }> {
    const doc = { ...record, state: 'sending' as const };
    const won = (await this.db.rows(S.claim, toParams(doc, X402_SETTLEMENT)))[0];
    if (won) return { claimed: true, record: fromRow<X402SettlementRecord>(won, X402_SETTLEMENT) };
    const held = await this.get(record.key);
    if (!held) throw new Error(`x402 settlement ${record.key}: claim lost to a row that is gone`);
    return { claimed: false, record: held };
  }

  async get(key: string): Promise<X402SettlementRecord | undefined> {
    const row = (await this.db.rows(S.get, [key]))[0];
    return row && fromRow<X402SettlementRecord>(row, X402_SETTLEMENT);
  }

  async update(key: string, patch: SettlementPatch, expect?: SettlementState): Promise<X402SettlementRecord | undefined> {
    const fields = PATCHABLE.filter((f) => patch[f] !== undefined);
    const values: unknown[] = [key, ...fields.map((f) => patch[f]), patch.updated];
    if (expect !== undefined) values.push(expect);
    const row = (await this.db.rows(updateStatement(fields, expect !== undefined), values))[0];
    return row && fromRow<X402SettlementRecord>(row, X402_SETTLEMENT);
  }

  async listUnfinished(limit: number): Promise<X402SettlementRecord[]> {
    return (await this.db.rows(S.unfinished, [limit])).map((r) => fromRow<X402SettlementRecord>(r, X402_SETTLEMENT));
  }
}

/**
 * The x402 settlement ledger on the embedded journal. A claim reads and writes in one synchronous step (the
 * journal makes a commit visible at once), so two claims of one key in this process can never both win.
 */
import type { SettlementPatch, SettlementState, X402SettlementLedger, X402SettlementRecord } from '../../x402/ledger.js';
import type { Journal } from './engine.js';

const SETTLEMENTS = 'x402_settlements';

const unfinished = (r: X402SettlementRecord | undefined): boolean => r !== undefined && (r.state === 'sending' || r.state === 'pending');

export class JournalX402SettlementsStore implements X402SettlementLedger {
  private readonly journal: Journal;
  /** Keys of rows still sending or pending. */
  private readonly open = new Set<string>();

  /** Registers its index on the journal; call before `journal.open()`. */
  constructor(journal: Journal) {
    this.journal = journal;
    journal.onApply((c, id, next) => {
      if (c !== SETTLEMENTS) return;
      if (unfinished(next as X402SettlementRecord | undefined)) this.open.add(id);
      else this.open.delete(id);
    });
  }

  async claim(record: X402SettlementRecord): Promise<{ claimed: boolean; record: X402SettlementRecord }> {
    const existing = this.journal.get<X402SettlementRecord>(SETTLEMENTS, record.key);
    if (existing && existing.state !== 'failed') return { claimed: false, record: existing };
    const doc = { ...record, state: 'sending' as const };
    await this.journal.commit([{ c: SETTLEMENTS, id: record.key, doc }]);
    return { claimed: true, record: doc };
  }

  async get(key: string): Promise<X402SettlementRecord | undefined> {
    return this.journal.get<X402SettlementRecord>(SETTLEMENTS, key);
  }

  async update(key: string, patch: SettlementPatch, expect?: SettlementState): Promise<X402SettlementRecord | undefined> {
    const existing = this.journal.get<X402SettlementRecord>(SETTLEMENTS, key);
    if (!existing || (expect !== undefined && existing.state !== expect)) return undefined;
    const doc = { ...existing, ...patch };
    await this.journal.commit([{ c: SETTLEMENTS, id: key, doc }]);
    return doc;
  }

  async listUnfinished(limit: number): Promise<X402SettlementRecord[]> {
    const rows: X402SettlementRecord[] = [];
    for (const key of this.open) {
      const row = this.journal.get<X402SettlementRecord>(SETTLEMENTS, key);
      if (row) rows.push(row);
    }
    return rows.sort((a, b) => a.created.localeCompare(b.created) || a.key.localeCompare(b.key)).slice(0, limit);
  }
}

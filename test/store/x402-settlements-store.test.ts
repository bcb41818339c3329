/**
 * The x402 settlement ledger contract on both engines: a claim wins once per authorization (also when many race),
 * a failed row can be claimed again, updates with an expected state, the unfinished list oldest first, and
 * persistence across a reopen.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Journal } from '../../bridge/store/journal/engine.js';
import { JournalX402SettlementsStore } from '../../bridge/store/journal/x402-settlements-store.js';
import { openPostgres } from '../../bridge/store/postgres/engine.js';
import { settlementKey, type X402SettlementLedger, type X402SettlementRecord } from '../../bridge/x402/ledger.js';
import { useTestDatabase } from '../helpers/pg.js';

interface Harness {
  ledger: X402SettlementLedger;
  /** A second handle on the same data (another bridge on PostgreSQL; the same journal otherwise). */
  other: X402SettlementLedger;
  reopen(): Promise<X402SettlementLedger>;
  close(): Promise<void>;
}

interface LedgerEngine {
  name: string;
  open(): Promise<Harness>;
}

function journalLedger(): LedgerEngine {
  return {
    name: 'journal',
    async open() {
      const dir = await mkdtemp(join(tmpdir(), 'paywire-x402-ledger-'));
      let journal = new Journal({ dir, fsync: false });
      let ledger = new JournalX402SettlementsStore(journal);
      await journal.open();
      return {
        get ledger() {
          return ledger;
        },
        get other() {
          return ledger;
        },
        async reopen() {
          await journal.close();
          journal = new Journal({ dir, fsync: false });
          ledger = new JournalX402SettlementsStore(journal);
          await journal.open();
          return ledger;
        },
        async close() {
          await journal.close();
          await rm(dir, { recursive: true, force: true });
        },
      };
    },
  };
}

function postgresLedger(): LedgerEngine {
  const db = useTestDatabase();
  return {
    name: 'PostgreSQL',
    async open() {
      const url = await db().schemaUrl();
      let a = await openPostgres({ url, poolSize: 5 });
      const b = await openPostgres({ url, poolSize: 5 });
      return {
        get ledger() {
          return a.x402Settlements;
        },
        other: b.x402Settlements,
        async reopen() {
          await a.close();
          a = await openPostgres({ url, poolSize: 5 });
          return a.x402Settlements;
        },
        async close() {
          await a.close();
          await b.close();
        },
      };
    },
  };
}

const T = (n: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString();
const TOKEN = '0x036cbd53842c5426634e7929541ec2318f3dcf7e';
const PAYER = '0x857b06519e91e3a54538791bdbb0e22373e36b66';

function record(nonceByte: number, extra: Partial<X402SettlementRecord> = {}): X402SettlementRecord {
  const nonce = `0x${nonceByte.toString(16).padStart(2, '0').repeat(32)}`;
  return {
    key: settlementKey(84532, TOKEN, PAYER, nonce),
    chain_id: 84532,
    network: 'base-sepolia',
    token: TOKEN,
    payer: PAYER,
    nonce,
    pay_to: '0x209693bc6afc0c5328ba36faf03c514ef312287c',
    value: '115792089237316195423570985008687907853269984665640564039457584007913129639935',
    x402_version: 2,
    fee_payer: '0x1111111111111111111111111111111111111111',
    state: 'sending',
    tx_hash: null,
    block_number: null,
    error_reason: null,
    created: T(nonceByte),
    updated: T(nonceByte),
    ...extra,
  };
}

function describeLedger(engine: LedgerEngine): void {
  describe(`X402SettlementLedger contract: ${engine.name}`, () => {
    it('claims an authorization once; a second claim gets the row that holds it, unchanged', async () => {
      const h = await engine.open();
      const r = record(1);
      const first = await h.ledger.claim(r);
      expect(first).toEqual({ claimed: true, record: r });
      const second = await h.other.claim({ ...r, fee_payer: '0x2222222222222222222222222222222222222222', created: T(50), updated: T(50) });
      expect(second).toEqual({ claimed: false, record: r });
      expect(await h.ledger.get(r.key)).toEqual(r);
      expect(await h.ledger.get('nope')).toBeUndefined();
      await h.close();
    });

    it('lets exactly one of many concurrent claims win, across handles', async () => {
      const h = await engine.open();
      const r = record(2);
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => (i % 2 ? h.other : h.ledger).claim({ ...r, fee_payer: `0x${String(i).padStart(40, '0')}` })),
      );
      expect(results.filter((x) => x.claimed)).toHaveLength(1);
      const winner = results.find((x) => x.claimed)?.record;
      for (const x of results) expect(x.record.fee_payer).toBe(winner?.fee_payer);
      await h.close();
    });

    it('updates with and without an expected state; only a failed row is claimed again', async () => {
      const h = await engine.open();
      const r = record(3);
      await h.ledger.claim(r);
      const hash = `0x${'ab'.repeat(32)}`;
      expect(await h.ledger.update(r.key, { state: 'pending', tx_hash: hash, error_reason: 'settlement_pending', updated: T(10) }, 'sending')).toEqual({
        ...r,
        state: 'pending',
        tx_hash: hash,
        error_reason: 'settlement_pending',
        updated: T(10),
      });
      // Wrong expected state: nothing changes.
      expect(await h.ledger.update(r.key, { state: 'failed', updated: T(11) }, 'sending')).toBeUndefined();
      expect((await h.ledger.claim({ ...r, updated: T(12) })).claimed).toBe(false);
      const settled = await h.ledger.update(r.key, { state: 'settled', block_number: 12345678901, error_reason: null, updated: T(13) }, 'pending');
      expect(settled).toMatchObject({ state: 'settled', tx_hash: hash, block_number: 12345678901, error_reason: null, updated: T(13) });
      expect((await h.ledger.claim(r)).claimed).toBe(false);
      expect(await h.ledger.update('missing', { state: 'failed', updated: T(14) })).toBeUndefined();

      const f = record(4);
      await h.ledger.claim(f);
      await h.ledger.update(f.key, { state: 'failed', error_reason: 'fee_payer_out_of_gas', updated: T(20) });
      const again = await h.other.claim({ ...f, fee_payer: '0x3333333333333333333333333333333333333333', created: T(21), updated: T(21) });
      expect(again.claimed).toBe(true);
      expect(await h.ledger.get(f.key)).toMatchObject({
        state: 'sending',
        fee_payer: '0x3333333333333333333333333333333333333333',
        error_reason: null,
        created: T(21),
      });
      await h.close();
    });

    it('lists sending and pending rows oldest first, up to the limit', async () => {
      const h = await engine.open();
      for (const n of [9, 7, 8, 6, 5]) await h.ledger.claim(record(n));
      await h.ledger.update(record(8).key, { state: 'pending', tx_hash: '0x01', updated: T(30) });
      await h.ledger.update(record(6).key, { state: 'settled', updated: T(30) });
      await h.ledger.update(record(5).key, { state: 'failed', updated: T(30) });
      expect((await h.ledger.listUnfinished(10)).map((x) => [x.nonce.slice(2, 4), x.state])).toEqual([
        ['07', 'sending'],
        ['08', 'pending'],
        ['09', 'sending'],
      ]);
      expect((await h.ledger.listUnfinished(2)).map((x) => x.nonce.slice(2, 4))).toEqual(['07', '08']);
      await h.close();
    });

    it('keeps every row across a reopen', async () => {
      const h = await engine.open();
      const r = record(10);
      await h.ledger.claim(r);
      await h.ledger.update(r.key, { state: 'pending', tx_hash: '0xbeef', updated: T(40) });
      const ledger = await h.reopen();
      expect(await ledger.get(r.key)).toEqual({ ...r, state: 'pending', tx_hash: '0xbeef', updated: T(40) });
      expect((await ledger.listUnfinished(5)).map((x) => x.key)).toEqual([r.key]);
      await h.close();
    });
  });
}

describeLedger(journalLedger());
describe('on PostgreSQL', () => describeLedger(postgresLedger()));

/**
 * Two bridges (two facilitators, each with its own fee payer) on one PostgreSQL ledger, settling the same payload
 * at once: one transaction, one charge; every answer carries that transaction.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgres, type PostgresStores } from '../../../bridge/store/postgres/engine.js';
import { startChain, type TestChain } from '../../helpers/chain.js';
import { signAuthorization, v2Body } from '../../helpers/eip3009.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/pg.js';
import { request, startFacilitator } from './setup.js';

let chain: TestChain;
let db: TestDatabase;
const pgs: PostgresStores[] = [];
beforeAll(async () => {
  [chain, db] = await Promise.all([startChain(), createTestDatabase()]);
});
afterAll(async () => {
  for (const pg of pgs) await pg.close();
  await chain?.stop();
  await db?.drop();
});

describe('settle on a shared PostgreSQL ledger', () => {
  it('two bridges settling one payload 6 times each at once send one transaction', async () => {
    const url = await db.schemaUrl();
    pgs.push(await openPostgres({ url, poolSize: 4 }), await openPostgres({ url, poolSize: 4 }));
    const a = await startFacilitator(chain, { ledger: pgs[0]!.x402Settlements });
    const b = await startFacilitator(chain, { ledger: pgs[1]!.x402Settlements, feePayerKey: chain.keys.deployer });
    try {
      const payment = await signAuthorization({ key: chain.keys.payer, token: chain.token, to: chain.accounts.merchant.address, value: 40_000n });
      const body = v2Body(payment, { asset: chain.token, payTo: chain.accounts.merchant.address, amount: 40_000n });
      const before = await chain.balanceOf(chain.accounts.payer.address);
      const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 ? a : b).facilitator.settle(request(body))));
      expect(new Set(answers.map((x) => x.transaction)).size).toBe(1);
      expect(answers.every((x) => x.success && x.transaction.startsWith('0x'))).toBe(true);
      expect(await chain.balanceOf(chain.accounts.payer.address)).toBe(before - 40_000n);
      // Afterwards, on either bridge: refused, with the first transaction.
      for (const f of [a, b])
        expect(await f.facilitator.settle(request(body))).toMatchObject({
          success: false,
          errorReason: 'nonce_already_used',
          transaction: answers[0]?.transaction,
        });
    } finally {
      await a.stop();
      await b.stop();
    }
  });
});

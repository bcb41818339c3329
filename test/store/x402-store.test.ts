/** The X402Store contract on every engine: the journal (reopened from its log and from a snapshot) and PostgreSQL. */
import { describe } from 'vitest';
import { describeX402Store } from './x402-store.contract.js';
import { journalEngine, postgresEngine, type Engine } from './engines.js';

function run(engine: Engine): void {
  describeX402Store(engine.name, async () => {
    const h = await engine.open();
    return {
      store: h.x402,
      reopen: async () => (await h.reopen()).x402,
      close: () => h.close(),
    };
  });
}

run(journalEngine({ name: 'lowdb journal' }));
run(journalEngine({ name: 'lowdb journal, reopened from a snapshot', compactBeforeReopen: true }));
describe('on PostgreSQL', () => run(postgresEngine()));

/** The MachinesStore contract on every engine: the journal (reopened from its log and from a snapshot) and PostgreSQL. */
import { describe } from 'vitest';
import { describeMachinesStore } from './machines-store.contract.js';
import { journalEngine, postgresEngine, type Engine } from './engines.js';

function run(engine: Engine): void {
  describeMachinesStore(engine.name, async () => {
    const h = await engine.open();
    return {
      store: h.machines,
      reopen: async () => (await h.reopen()).machines,
      close: () => h.close(),
    };
  });
}

run(journalEngine({ name: 'lowdb journal' }));
run(journalEngine({ name: 'lowdb journal, reopened from a snapshot', compactBeforeReopen: true }));
describe('on PostgreSQL', () => run(postgresEngine()));

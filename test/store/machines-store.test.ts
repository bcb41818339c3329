import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Journal } from '../../bridge/store/journal.js';
import { JournalMachinesStore } from '../../bridge/store/machines.js';
import { describeMachinesStore, type StoreHarness } from './machines-store.contract.js';

/** A journal store in a fresh directory; `reopen` closes it and opens the same data again. */
async function journalHarness(compactBeforeReopen: boolean): Promise<StoreHarness> {
  const dir = await mkdtemp(join(tmpdir(), 'paywire-store-'));
  let journal = new Journal({ dir });
  let store = new JournalMachinesStore(journal);
  await journal.open();
  return {
    store,
    async reopen() {
      if (compactBeforeReopen) await journal.compact();
      await journal.close();
      journal = new Journal({ dir });
      store = new JournalMachinesStore(journal);
      await journal.open();
      return store;
    },
    async close() {
      await journal.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

describeMachinesStore('lowdb journal', () => journalHarness(false));
describeMachinesStore('lowdb journal, reopened from a snapshot', () => journalHarness(true));

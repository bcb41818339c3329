/**
 * Both store engines for the contract suites: `journalEngine()` (a fresh directory per harness) and
 * `postgresEngine()` (a throwaway database per test file, a fresh schema per harness). Each harness
 * holds every family's store on one engine, can reopen the same data, and cleans up on close.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DevicesStore } from '../../bridge/devices/store.js';
import type { LightningStore } from '../../bridge/lightning/store.js';
import type { MachinesStore } from '../../bridge/machines/store.js';
import type { X402Store } from '../../bridge/x402/store.js';
import { JournalDevicesStore } from '../../bridge/store/journal/devices-store.js';
import { Journal } from '../../bridge/store/journal/engine.js';
import { JournalLightningStore } from '../../bridge/store/journal/lightning-store.js';
import { JournalMachinesStore } from '../../bridge/store/journal/machines-store.js';
import { JournalX402Store } from '../../bridge/store/journal/x402-store.js';
import { openPostgres } from '../../bridge/store/postgres/engine.js';
import { useTestDatabase } from '../helpers/pg.js';

export interface EngineStores {
  machines: MachinesStore;
  lightning: LightningStore;
  devices: DevicesStore;
}

/** Every store of an engine, the x402 facilitator's included. */
export interface AllStores extends EngineStores {
  x402: X402Store;
}

export interface EngineHarness extends AllStores {
  /** Close and open the same data again (persistence). */
  reopen(): Promise<AllStores>;
  close(): Promise<void>;
}

export interface Engine {
  name: string;
  open(): Promise<EngineHarness>;
}

export function journalEngine(options: { compactBeforeReopen?: boolean; name?: string } = {}): Engine {
  return {
    name: options.name ?? 'journal',
    async open() {
      const dir = await mkdtemp(join(tmpdir(), 'paywire-store-'));
      let journal: Journal;
      const openJournal = async (): Promise<AllStores> => {
        journal = new Journal({ dir });
        const machines = new JournalMachinesStore(journal);
        const stores = {
          machines,
          lightning: new JournalLightningStore(journal, machines),
          devices: new JournalDevicesStore(journal),
          x402: new JournalX402Store(journal),
        };
        await journal.open();
        return stores;
      };
      const harness = {
        ...(await openJournal()),
        async reopen() {
          if (options.compactBeforeReopen) await journal.compact();
          await journal.close();
          return Object.assign(harness, await openJournal());
        },
        async close() {
          await journal.close();
          await rm(dir, { recursive: true, force: true });
        },
      };
      return harness;
    },
  };
}

/** Registers the test file's database (created before its tests, dropped after); call inside a describe. */
export function postgresEngine(): Engine {
  const db = useTestDatabase();
  return {
    name: 'PostgreSQL',
    async open() {
      const url = await db().schemaUrl();
      let pg = await openPostgres({ url, poolSize: 5 });
      const harness = {
        machines: pg.machines as MachinesStore,
        lightning: pg.lightning as LightningStore,
        devices: pg.devices as DevicesStore,
        x402: pg.x402 as X402Store,
        async reopen() {
          await pg.close();
          pg = await openPostgres({ url, poolSize: 5 });
          return Object.assign(harness, { machines: pg.machines, lightning: pg.lightning, devices: pg.devices, x402: pg.x402 });
        },
        close: () => pg.close(),
      };
      return harness;
    },
  };
}

/**
 * The store factory of the composition root: every family's store on one engine, chosen by config.
 * `DATABASE_URL` set: PostgreSQL (`postgres/`); unset: the embedded journal under `DATA_DIR`.
 */
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { DevicesStore } from '../devices/store.js';
import type { LightningStore } from '../lightning/store.js';
import type { MachinesStore } from '../machines/store.js';
import { JournalDevicesStore } from './devices.js';
import { Journal } from './journal.js';
import { JournalLightningStore } from './lightning.js';
import { JournalMachinesStore } from './machines.js';
import { openPostgres } from './postgres/engine.js';

export interface Stores {
  engine: 'journal' | 'postgres';
  machines: MachinesStore;
  lightning: LightningStore;
  devices: DevicesStore;
  /** The journal engine's log (tests that break its disk reach it here). */
  journal?: Journal;
  close(): Promise<void>;
}

export async function openStores(config: Config, log: Logger, onFatal?: (err: Error) => void): Promise<Stores> {
  if (config.databaseUrl !== undefined) {
    const pg = await openPostgres({ url: config.databaseUrl, poolSize: config.databasePoolSize, log: log.child({ component: 'postgres' }) });
    return { engine: 'postgres', machines: pg.machines, lightning: pg.lightning, devices: pg.devices, close: pg.close };
  }
  // One journal, each family's store registering its indexes before it opens.
  const journal = new Journal({
    dir: config.dataDir,
    fsync: config.journalFsync,
    compactBytes: config.journalCompactBytes,
    log: log.child({ component: 'journal' }),
    ...(onFatal ? { onFailure: onFatal } : {}),
  });
  const machines = new JournalMachinesStore(journal);
  const lightning = new JournalLightningStore(journal, machines);
  const devices = new JournalDevicesStore(journal);
  await journal.open();
  return { engine: 'journal', machines, lightning, devices, journal, close: () => journal.close() };
}

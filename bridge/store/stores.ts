/**
 * The store factory of the composition root: every family's store on one engine, chosen by config.
 * `DATABASE_URL` set: PostgreSQL (`postgres/`); unset: the embedded journal (`journal/`) under `DATA_DIR`.
 */
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { DevicesStore } from '../devices/store.js';
import type { LicenseStore } from '../license/store.js';
import type { LightningStore } from '../lightning/store.js';
import type { MachinesStore } from '../machines/store.js';
import type { X402Store } from '../x402/store.js';
import type { X402SettlementLedger } from '../x402/ledger.js';
import { JournalDevicesStore } from './journal/devices-store.js';
import { hasSecrets, SECRETS_FILE } from '../secrets.js';
import { Journal, StoreCorruptError } from './journal/engine.js';
import { JournalLicenseStore } from './journal/license-store.js';
import { JournalLightningStore } from './journal/lightning-store.js';
import { JournalMachinesStore } from './journal/machines-store.js';
import { JournalX402Store } from './journal/x402-store.js';
import { JournalX402SettlementsStore } from './journal/x402-settlements-store.js';
import { openPostgres } from './postgres/engine.js';

export interface Stores {
  engine: 'journal' | 'postgres';
  machines: MachinesStore;
  lightning: LightningStore;
  devices: DevicesStore;
  /** The x402 facilitator's users, client keys, resources, metrics and token registry. */
  x402: X402Store;
  /** The x402 settlement ledger (bridge/x402/ledger.ts). */
  x402Settlements: X402SettlementLedger;
  license: LicenseStore;
  /** The journal engine's log (tests that break its disk reach it here). */
  journal?: Journal;
  /** Whether the store holds anything yet (secrets.json missing beside data is a lost piece). */
  hasData(): Promise<boolean>;
  close(): Promise<void>;
}

export interface StoreOptions {
  onFatal?: ((err: Error) => void) | undefined;
  /** Each commit's duration, for the store commit latency metric. */
  onCommitted?: ((seconds: number) => void) | undefined;
}

export async function openStores(config: Config, log: Logger, options: StoreOptions = {}): Promise<Stores> {
  if (config.databaseUrl !== undefined) {
    const pg = await openPostgres({ url: config.databaseUrl, poolSize: config.databasePoolSize, log: log.child({ component: 'postgres' }) });
    return {
      engine: 'postgres',
      machines: pg.machines,
      lightning: pg.lightning,
      devices: pg.devices,
      x402: pg.x402,
      x402Settlements: pg.x402Settlements,
      license: pg.license,
      hasData: async () => (await pg.db.exec('SELECT EXISTS (SELECT 1 FROM accounts) AS any')).at(0)?.['any'] === true,
      close: pg.close,
    };
  }
  // One journal, each family's store registering its indexes before it opens.
  const journal = new Journal({
    dir: config.dataDir,
    fsync: config.journalFsync,
    compactBytes: config.journalCompactBytes,
    log: log.child({ component: 'journal' }),
    ...(options.onCommitted ? { onCommitted: options.onCommitted } : {}),
    ...(options.onFatal ? { onFailure: options.onFatal } : {}),
  });
  const machines = new JournalMachinesStore(journal);
  const lightning = new JournalLightningStore(journal, machines);
  const devices = new JournalDevicesStore(journal);
  const x402 = new JournalX402Store(journal);
  const x402Settlements = new JournalX402SettlementsStore(journal);
  const license = new JournalLicenseStore(journal);
  // The store and secrets.json are made together (store first): one without the other means a lost piece.
  if ((await hasSecrets(config.dataDir)) && !(await journal.exists())) {
    throw new StoreCorruptError(
      `${config.dataDir} holds ${SECRETS_FILE} but no store (paywire.json, paywire.wal.*): restore the store from a backup; only if this directory never held data, remove ${SECRETS_FILE} to start afresh. Nothing was changed`,
    );
  }
  await journal.open();
  return {
    engine: 'journal',
    machines,
    lightning,
    devices,
    x402,
    x402Settlements,
    license,
    journal,
    hasData: async () => journal.stats().seq > 0,
    close: () => journal.close(),
  };
}

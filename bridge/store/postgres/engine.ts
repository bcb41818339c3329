/**
 * Opening the PostgreSQL engine: connect, migrate (under the advisory lock), and hand out every
 * family's store over one pool. An unreachable server at start is one clear line, not a stack.
 */
import type { Logger } from 'pino';
import { StoreUnavailableError } from '../errors.js';
import { Database, describeUrl, isUnavailable } from './database.js';
import { PostgresDevicesStore } from './devices-store.js';
import { PostgresLicenseStore } from './license-store.js';
import { PostgresLightningStore } from './lightning-store.js';
import { PostgresMachinesStore } from './machines-store.js';
import { PostgresX402SettlementsStore } from './x402-settlements-store.js';
import { migrate } from './migrate.js';
import { PostgresX402Store } from './x402-store.js';

export interface PostgresStores {
  db: Database;
  machines: PostgresMachinesStore;
  lightning: PostgresLightningStore;
  devices: PostgresDevicesStore;
  x402: PostgresX402Store;
  x402Settlements: PostgresX402SettlementsStore;
  license: PostgresLicenseStore;
  close(): Promise<void>;
}

export async function openPostgres(options: { url: string; poolSize?: number; log?: Logger }): Promise<PostgresStores> {
  const db = new Database({
    url: options.url,
    ...(options.poolSize !== undefined ? { poolSize: options.poolSize } : {}),
    ...(options.log ? { log: options.log } : {}),
  });
  try {
    const applied = await migrate(db);
    if (applied.length > 0) options.log?.info({ applied }, 'PostgreSQL schema migrated');
  } catch (err) {
    await db.close().catch(() => undefined);
    const why = err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
    throw new Error(
      isUnavailable(err) || err instanceof StoreUnavailableError
        ? `cannot reach PostgreSQL at ${describeUrl(options.url)} (DATABASE_URL): ${why}`
        : `PostgreSQL at ${describeUrl(options.url)} (DATABASE_URL): ${why}`,
      { cause: err },
    );
  }
  return {
    db,
    machines: new PostgresMachinesStore(db),
    lightning: new PostgresLightningStore(db),
    devices: new PostgresDevicesStore(db),
    x402: new PostgresX402Store(db),
    x402Settlements: new PostgresX402SettlementsStore(db),
    license: new PostgresLicenseStore(db),
    close: () => db.close(),
  };
}

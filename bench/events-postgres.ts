/**
 * The PostgreSQL side of bench/events: a prefilled template database per store size (the same
 * account, key and asset as the journal fixture; events bulk-inserted in one statement, then
 * VACUUM ANALYZE), and a fresh copy of it (CREATE DATABASE … TEMPLATE) for each measured phase, so each
 * starts at exactly that size. The server is PAYWIRE_BENCH_DATABASE_URL, else PAYWIRE_TEST_DATABASE_URL,
 * else the local one; its settings are left as they are (synchronous_commit on).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openPostgres } from '../bridge/store/postgres/engine.js';

export const BENCH_DATABASE_URL =
  process.env['PAYWIRE_BENCH_DATABASE_URL'] || process.env['PAYWIRE_TEST_DATABASE_URL'] || 'postgres://postgres@127.0.0.1:5432/postgres';

export interface Owner {
  userId: string;
  apiKey: string;
  apiKeyHash: string;
  keyPrefix: string;
  assetId: string;
}

export class PostgresBench {
  private readonly run = `paywire_bench_${process.pid}_${randomBytes(3).toString('hex')}`;
  private readonly made: string[] = [];
  private copies = 0;

  /** A reason instead when the server cannot be reached (the PostgreSQL phases are then left out, and said so). */
  static async connect(): Promise<PostgresBench | string> {
    const client = new pg.Client({ connectionString: BENCH_DATABASE_URL, connectionTimeoutMillis: 3_000 });
    try {
      await client.connect();
      const { rows } = await client.query<{ v: string; sc: string }>(
        "SELECT current_setting('server_version') AS v, current_setting('synchronous_commit') AS sc",
      );
      await client.end();
      const bench = new PostgresBench();
      bench.server = `PostgreSQL ${rows[0]?.v} at ${new URL(BENCH_DATABASE_URL).host}, synchronous_commit ${rows[0]?.sc}`;
      return bench;
    } catch (err) {
      await client.end().catch(() => undefined);
      return `no PostgreSQL at ${BENCH_DATABASE_URL}: ${(err as Error).message}`;
    }
  }

  server = '';

  url(name: string): string {
    const url = new URL(BENCH_DATABASE_URL);
    url.pathname = `/${name}`;
    return url.toString();
  }

  private async admin(sql: string): Promise<void> {
    const client = new pg.Client({ connectionString: BENCH_DATABASE_URL });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  }

  /** A template database holding the owner and `size` events; returns its name. */
  async prefill(size: number, owner: Owner): Promise<string> {
    const name = `${this.run}_t${size}`;
    await this.admin(`CREATE DATABASE ${name}`);
    this.made.push(name);
    const stores = await openPostgres({ url: this.url(name), poolSize: 1 });
    try {
      const now = new Date().toISOString();
      await stores.machines.createAccount(
        { user_id: owner.userId, username: 'bench-bot', display_name: 'bench-bot', lightning_address: null, role: 'machine', created: now, updated: now },
        {
          key_id: `k${owner.userId}`,
          user_id: owner.userId,
          hash: owner.apiKeyHash,
          prefix: owner.keyPrefix,
          scope: 'full',
          label: null,
          created: now,
          revoked_at: null,
        },
      );
      await stores.machines.putAsset({
        asset_id: owner.assetId,
        user_id: owner.userId,
        name: 'bench-machine',
        price_sats: 100,
        duration_ms: 60_000,
        pricing: 'fixed',
        min_sats: null,
        max_sats: null,
        refuse_when_offline: false,
        metadata: {},
        x402: null,
        created: now,
        updated: now,
        deleted_at: null,
      });
      await stores.db.exec(
        `INSERT INTO events (event_id, user_id, type, asset_id, external_id, data, source, created)
         SELECT 'prefill' || i, $1, 'action', $2, 'prefill-' || i, jsonb_build_object('n', i, 'cycle_ms', 1200, 'ok', true), 'api', now()
         FROM generate_series(0, $3::int - 1) AS i`,
        [owner.userId, owner.assetId, size],
      );
      await stores.db.exec('VACUUM ANALYZE');
    } finally {
      await stores.close();
    }
    await this.admin('CHECKPOINT');
    return name;
  }

  /**
   * A fresh copy of a template for one phase. FILE_COPY, then a CHECKPOINT: the default (WAL_LOG)
   * would write the whole copy into the WAL and leave its flush and checkpoint to land inside the
   * measured window.
   */
  async copy(template: string): Promise<{ url: string; drop: () => Promise<void> }> {
    const name = `${this.run}_c${++this.copies}`;
    await this.admin(`CREATE DATABASE ${name} TEMPLATE ${template} STRATEGY FILE_COPY`);
    this.made.push(name);
    await this.admin('CHECKPOINT');
    return {
      url: this.url(name),
      drop: async () => {
        this.made.splice(this.made.indexOf(name), 1);
        await this.admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      },
    };
  }

  async dropAll(): Promise<void> {
    for (const name of this.made.splice(0).reverse()) await this.admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }
}

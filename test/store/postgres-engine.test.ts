/**
 * The PostgreSQL engine's own duties: migrations applied once when two bridges start at once, a
 * newer schema refused, an unreachable server reported in one line (without the password).
 */
import { createServer, type AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { Database } from '../../bridge/store/postgres/database.js';
import { openPostgres } from '../../bridge/store/postgres/engine.js';
import { loadMigrations } from '../../bridge/store/postgres/migrate.js';
import { useTestDatabase } from '../helpers/pg.js';

const db = useTestDatabase();

describe('PostgreSQL engine', () => {
  it('migrates once when two bridges start at the same time', async () => {
    const url = await db().schemaUrl();
    const opened = await Promise.all([openPostgres({ url, poolSize: 2 }), openPostgres({ url, poolSize: 2 }), openPostgres({ url, poolSize: 2 })]);
    try {
      const rows = await opened[0].db.exec('SELECT version FROM schema_migrations ORDER BY version');
      // Every migration this build knows, each once.
      expect(rows.map((r) => r['version'])).toEqual((await loadMigrations()).map((m) => m.version));
      expect(rows.map((r) => r['version'])).toContain(1);
      // All three work on the one schema.
      expect(
        await opened[1].machines.createAccount(
          {
            user_id: 'u1',
            username: 'one',
            display_name: 'one',
            lightning_address: null,
            role: 'machine',
            created: new Date().toISOString(),
            updated: new Date().toISOString(),
          },
          { key_id: 'k1', user_id: 'u1', hash: 'h1', prefix: 'lib_00000000', scope: 'full', label: null, created: new Date().toISOString(), revoked_at: null },
        ),
      ).toBe(true);
      expect((await opened[2].machines.getAccountByUsername('one'))?.user_id).toBe('u1');
    } finally {
      await Promise.all(opened.map((o) => o.close()));
    }
  });

  it('refuses a database migrated by a newer Paywire', async () => {
    const url = await db().schemaUrl();
    await (await openPostgres({ url, poolSize: 1 })).close();
    const raw = new Database({ url, poolSize: 1 });
    await raw.exec("INSERT INTO schema_migrations (version, name) VALUES (999, 'future')");
    await raw.close();
    await expect(openPostgres({ url, poolSize: 1 })).rejects.toThrow(/schema version 999, newer than this Paywire knows/);
  });

  it('says in one line, without the password, when the server cannot be reached at start', async () => {
    // A port that refuses: bind one, then close it.
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const err = await openPostgres({ url: `postgres://paywire:s3cret-pw@127.0.0.1:${port}/paywire`, poolSize: 1 }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    const message = (err as Error).message;
    expect(message).toMatch(new RegExp(`^cannot reach PostgreSQL at postgres://paywire@127\\.0\\.0\\.1:${port}/paywire \\(DATABASE_URL\\): .*ECONNREFUSED`));
    expect(message).not.toContain('s3cret-pw');
    expect(message).not.toContain('\n');
  });
});

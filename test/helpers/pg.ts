/**
 * PostgreSQL for tests: each test file makes its own throwaway database
 * (`paywire_test_<pid>_<random>`) on the server at PAYWIRE_TEST_DATABASE_URL (default the local
 * one), a schema per store or bridge inside it, and drops the database when done. No server is a
 * failure with a clear message, never a silent skip.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';

export const TEST_DATABASE_URL = process.env['PAYWIRE_TEST_DATABASE_URL'] || 'postgres://postgres@127.0.0.1:5432/postgres';

/** Which engine the end-to-end helpers start bridges on: PAYWIRE_TEST_ENGINE=postgres, or the journal. */
export const TEST_ENGINE: 'journal' | 'postgres' = process.env['PAYWIRE_TEST_ENGINE'] === 'postgres' ? 'postgres' : 'journal';

export interface TestDatabase {
  name: string;
  /** The database's URL. */
  url: string;
  /** A fresh schema; the URL's connections use it (search_path). */
  schemaUrl(): Promise<string>;
  drop(): Promise<void>;
}

function withDatabase(base: string, name: string): URL {
  const url = new URL(base);
  url.pathname = `/${name}`;
  return url;
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL, connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
  } catch (err) {
    throw new Error(
      `PostgreSQL tests need a server at ${TEST_DATABASE_URL} (set PAYWIRE_TEST_DATABASE_URL; .ci/run starts the local one): ${(err as Error).message}`,
    );
  }
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `paywire_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  const url = withDatabase(TEST_DATABASE_URL, name).toString();
  let schemas = 0;
  return {
    name,
    url,
    async schemaUrl() {
      const schema = `s${++schemas}_${randomBytes(3).toString('hex')}`;
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      await client.query(`CREATE SCHEMA ${schema}`);
      await client.end();
      const u = new URL(url);
      u.searchParams.set('options', `-c search_path=${schema}`);
      return u.toString();
    },
    drop: () => admin(async (c) => void (await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))),
  };
}

/**
 * This file's (or describe's) test database: created before its tests, dropped after. Call it at the top level
 * of a file or inside a describe; the getter throws when the database is not made yet (called outside a test).
 */
export function useTestDatabase(): () => TestDatabase {
  let db: TestDatabase | undefined;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });
  return () => {
    if (!db) throw new Error('no test database (was useTestDatabase() called inside a describe, and used inside a test?)');
    return db;
  };
}

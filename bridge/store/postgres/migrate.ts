/**
 * Versioned schema migrations: `migrations/NNN_name.sql`, applied in order, each once, recorded in
 * `schema_migrations`. All pending files run in one transaction under a transaction-scoped advisory
 * lock, so two bridges starting at once against one database take turns (the second finds the work
 * done) and a failed migration leaves nothing half-made. A database migrated by a newer Paywire
 * (a version this build does not know) is refused rather than guessed at.
 */
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Database } from './database.js';

const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));
/** pg_advisory_xact_lock key: "payw" in ASCII. */
const LOCK_KEY = 0x70617977;

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export async function loadMigrations(dir = MIGRATIONS_DIR): Promise<Migration[]> {
  const out: Migration[] = [];
  for (const file of (await readdir(dir)).sort()) {
    const m = /^(\d{3})_([a-z0-9_-]+)\.sql$/.exec(file);
    if (!m) continue;
    out.push({ version: Number(m[1]), name: m[2] as string, sql: await readFile(`${dir}/${file}`, 'utf8') });
  }
  return out;
}

/** Bring the schema up to date; returns the versions this call applied (none when another bridge did). */
export async function migrate(db: Database, migrations?: Migration[]): Promise<number[]> {
  const all = migrations ?? (await loadMigrations());
  const client = await db.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [LOCK_KEY]);
    if ((await client.query('SELECT current_schema() AS s')).rows[0]?.s == null) {
      throw new Error('the search_path names no existing schema: create it first');
    }
    await client.query(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const done = new Set((await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version));
    const known = new Set(all.map((m) => m.version));
    const unknown = [...done].filter((v) => !known.has(v));
    if (unknown.length > 0) {
      throw new Error(`the database has schema version ${Math.max(...unknown)}, newer than this Paywire knows (${Math.max(0, ...known)}): upgrade Paywire`);
    }
    const applied: number[] = [];
    for (const m of all) {
      if (done.has(m.version)) continue;
      await client.query(m.sql);
      await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      applied.push(m.version);
    }
    await client.query('COMMIT');
    return applied;
  } catch (err) {
    await client.query('ROLLBACK').catch((e: unknown) => (broken = e as Error));
    throw err;
  } finally {
    client.release(broken);
  }
}

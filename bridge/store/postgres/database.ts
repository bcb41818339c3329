/**
 * The PostgreSQL engine's connection pool (`pg`, the most used Node driver: a pool, named prepared
 * statements, no native build). Every query goes through `query`/`transaction`, which turn a lost or
 * refused connection into `StoreUnavailableError` (answered 503 backend_unavailable; nothing is
 * assumed written). The pool reconnects on its own, so the store recovers when the server is back.
 */
import pg from 'pg';
import type { Logger } from 'pino';
import { StoreUnavailableError } from '../journal/engine.js';

export interface DatabaseOptions {
  /** `postgres://user:password@host:port/database` (any libpq-style parameters `pg` accepts). */
  url: string;
  /** Connections at most (default 10). */
  poolSize?: number;
  /** How long to wait for a connection before answering "unavailable" (default 5 s). */
  connectTimeoutMs?: number;
  /** How long a query may wait for the server before answering "unavailable" (default 30 s). */
  queryTimeoutMs?: number;
  log?: Logger;
}

/** A named statement: prepared once per connection, then executed by name. */
export interface Statement {
  name: string;
  text: string;
}

export interface Queryable {
  rows<R = Record<string, unknown>>(statement: Statement, values: unknown[]): Promise<R[]>;
}

/** SQLSTATE classes that mean "the server is not there right now", not "the query is wrong". */
const UNAVAILABLE_STATES = /^(08|53|57P0[1-3])/;

/** What `pg` and `pg-pool` say when a connection breaks, cannot be made or stops answering. */
const CONNECTION_MESSAGES =
  /Connection terminated|connection timeout|timeout exceeded when trying to connect|Query read timeout|not queryable|Connection ended/i;

/** The socket failed, the pool could not connect, or the server is going away: the store is unavailable (not a bug). */
export function isUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (err instanceof pg.DatabaseError) return typeof code === 'string' && UNAVAILABLE_STATES.test(code);
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return true; // ECONNREFUSED, ECONNRESET, EPIPE, ETIMEDOUT…
  return CONNECTION_MESSAGES.test(err.message);
}

function classify(err: unknown): unknown {
  return isUnavailable(err) ? new StoreUnavailableError(err as Error) : err;
}

/** `postgres://user@host:port/db`, without the password, for messages and logs. */
export function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    u.password = '';
    u.search = '';
    return u.toString();
  } catch {
    return 'DATABASE_URL';
  }
}

export class Database implements Queryable {
  readonly url: string;
  readonly poolSize: number;
  private readonly pool: pg.Pool;

  constructor(options: DatabaseOptions) {
    this.url = options.url;
    this.poolSize = options.poolSize ?? 10;
    this.pool = new pg.Pool({
      connectionString: options.url,
      max: this.poolSize,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
      query_timeout: options.queryTimeoutMs ?? 30_000,
      idleTimeoutMillis: 30_000,
      application_name: 'paywire',
    });
    // An idle connection that breaks (the server restarts) is dropped by the pool; without a
    // listener its 'error' would end the process.
    this.pool.on('error', (err) => options.log?.warn({ err: err.message }, 'idle PostgreSQL connection lost'));
  }

  async rows<R = Record<string, unknown>>(statement: Statement, values: unknown[]): Promise<R[]> {
    try {
      return (await this.pool.query({ name: statement.name, text: statement.text, values })).rows as R[];
    } catch (err) {
      throw classify(err);
    }
  }

  /** Run `fn` in one transaction on one connection: committed when it resolves, rolled back when it throws. */
  async transaction<T>(fn: (q: Queryable) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw classify(err);
    }
    let broken: unknown;
    try {
      await client.query('BEGIN');
      const q: Queryable = {
        rows: async <R>(statement: Statement, values: unknown[]) => (await client.query({ name: statement.name, text: statement.text, values })).rows as R[],
      };
      const result = await fn(q);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      if (isUnavailable(err)) broken = err;
      else await client.query('ROLLBACK').catch((e: unknown) => (broken = e));
      throw classify(err);
    } finally {
      // A connection that failed mid-transaction is closed, not handed to the next caller.
      client.release(broken instanceof Error ? broken : undefined);
    }
  }

  /** A plain (unprepared) query on its own connection, for migrations and tooling. */
  async exec(sql: string, values: unknown[] = []): Promise<Record<string, unknown>[]> {
    try {
      return (await this.pool.query(sql, values)).rows as Record<string, unknown>[];
    } catch (err) {
      throw classify(err);
    }
  }

  /** A connection of its own (migrations hold one for their transaction). */
  async connect(): Promise<pg.PoolClient> {
    try {
      return await this.pool.connect();
    } catch (err) {
      throw classify(err);
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

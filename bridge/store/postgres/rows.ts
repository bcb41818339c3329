/**
 * Records ⇄ rows. Each table's columns are named as its record's fields; a kind says how a value
 * crosses: timestamps go in as ISO strings and come back as `Date.toISOString()` (the format every
 * record uses), bigints come back as numbers, JSON is sent as text (so arrays stay JSON arrays).
 */
import type { Statement } from './database.js';

/** `text?`, `bool?`, `json?`: a field old (or most) records lack; a NULL reads back as absent. */
export type Kind = 'text' | 'text?' | 'num' | 'bool' | 'bool?' | 'json' | 'json?' | 'time';
export type Columns = Readonly<Record<string, Kind>>;

export function toParams(record: object, columns: Columns): unknown[] {
  const r = record as Record<string, unknown>;
  return Object.entries(columns).map(([name, kind]) => {
    const v = r[name];
    if (v === undefined || v === null) return null;
    return kind === 'json' || kind === 'json?' ? JSON.stringify(v) : v;
  });
}

export function fromRow<T>(row: Record<string, unknown>, columns: Columns): T {
  const out: Record<string, unknown> = {};
  for (const [name, kind] of Object.entries(columns)) {
    const v = row[name];
    if (v === null || v === undefined) {
      if (kind !== 'text?' && kind !== 'bool?' && kind !== 'json?') out[name] = null;
      continue;
    }
    switch (kind) {
      case 'num':
        out[name] = Number(v);
        break;
      case 'time':
        out[name] = (v instanceof Date ? v : new Date(String(v))).toISOString();
        break;
      default:
        out[name] = v;
    }
  }
  return out as T;
}

const quote = (name: string): string => (name === 'primary' ? '"primary"' : name);

const CAST: Record<Kind, string> = {
  text: 'text',
  'text?': 'text',
  num: 'bigint',
  bool: 'boolean',
  'bool?': 'boolean',
  json: 'jsonb',
  'json?': 'jsonb',
  time: 'timestamptz',
};

/** `$1::text, $2::jsonb, …` for the columns, numbered from `from` (typed, so they also serve INSERT … SELECT). */
export function placeholders(columns: Columns, from = 1): string {
  return Object.values(columns)
    .map((kind, i) => `$${from + i}::${CAST[kind]}`)
    .join(', ');
}

export function columnList(columns: Columns): string {
  return Object.keys(columns).map(quote).join(', ');
}

/** INSERT … ON CONFLICT (key) DO UPDATE every other column (the row keeps its seq/pos). */
export function upsert(name: string, table: string, columns: Columns, key: string): Statement {
  const updates = Object.keys(columns)
    .filter((c) => c !== key)
    .map((c) => `${quote(c)} = EXCLUDED.${quote(c)}`)
    .join(', ');
  return {
    name,
    text: `INSERT INTO ${table} (${columnList(columns)}) VALUES (${placeholders(columns)}) ON CONFLICT (${key}) DO UPDATE SET ${updates}`,
  };
}

export function insert(name: string, table: string, columns: Columns, returning = ''): Statement {
  return { name, text: `INSERT INTO ${table} (${columnList(columns)}) VALUES (${placeholders(columns)})${returning ? ` RETURNING ${returning}` : ''}` };
}

export function select(name: string, sql: string): Statement {
  return { name, text: sql };
}

/** Newest-first pages on PostgreSQL: `seq < before`, `ORDER BY seq DESC`, one row more than asked to see if a next page exists. */
import type { PageResult } from '../../machines/store.js';
import type { Statement } from './database.js';
import { fromRow, type Columns } from './rows.js';

/**
 * One named statement per filter combination (each `filters` entry is `column op`, its value the
 * next parameter), so each is prepared with a plan that uses its index. Values: the owner, each
 * filter's value, `before` when paging on, then the limit.
 */
export function pagedStatement(cache: Map<string, Statement>, table: string, owner: string, prefix: string, filters: string[], before: boolean): Statement {
  const key = `${filters.join(',')}|${before}`;
  let statement = cache.get(key);
  if (!statement) {
    const conds = [`${owner} = $1`, ...filters.map((f, i) => `${f} $${i + 2}`)];
    if (before) conds.push(`seq < $${filters.length + 2}`);
    const limit = filters.length + (before ? 3 : 2);
    statement = {
      name: [prefix, ...filters.map((f) => f.split(' ')[0]), before ? 'before' : 'top'].join('_'),
      text: `SELECT * FROM ${table} WHERE ${conds.join(' AND ')} ORDER BY seq DESC LIMIT $${limit}`,
    };
    cache.set(key, statement);
  }
  return statement;
}

/** Rows fetched with `limit + 1`: the extra one says there is a next page. */
export function toPage<T extends { seq: number }>(rows: Record<string, unknown>[], columns: Columns, limit: number): PageResult<T> {
  const items = rows.slice(0, limit).map((r) => fromRow<T>(r, columns));
  return { items, next: rows.length > limit && items.length > 0 ? (items[items.length - 1] as T).seq : null };
}

/** Newest-first pages over lists kept in `seq` order, the shape every journal store index uses. */
import type { PageResult, SeqPage } from '../../machines/store.js';

/** Index of the first element whose seq is >= `seq` (the list is sorted by seq). */
export function lowerBound(list: readonly { seq: number }[], seq: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((list[mid] as { seq: number }).seq < seq) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function pageNewestFirst<T extends { seq: number }>(list: readonly T[], page: SeqPage, keep: (item: T) => boolean): PageResult<T> {
  const items: T[] = [];
  let i = (page.before === undefined ? list.length : lowerBound(list, page.before)) - 1;
  for (; i >= 0; i--) {
    const item = list[i] as T;
    if (!keep(item)) continue;
    if (items.length === page.limit) return { items, next: (items[items.length - 1] as T).seq };
    items.push(item);
  }
  return { items, next: null };
}

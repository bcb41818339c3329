/**
 * Garbage-collection helpers shared by `bench/mqtt.ts` and its worker thread: a full collection on
 * demand (so one phase's garbage is not collected inside the next one's window) and a watch on the
 * longest collection pause, to tell GC stalls from the rest.
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** A full garbage collection on demand, without asking for `--expose-gc` on the command line. */
export function gcFunction(): () => void {
  if (typeof globalThis.gc === 'function') return globalThis.gc;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/** Watch this thread's garbage collections; the function returned stops and gives the longest pause (ms). */
export function gcWatch(): () => Promise<number> {
  let longest = 0;
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) longest = Math.max(longest, entry.duration);
  });
  observer.observe({ entryTypes: ['gc'] });
  return async () => {
    await sleep(1); // entries are delivered asynchronously
    observer.disconnect();
    return longest;
  };
}

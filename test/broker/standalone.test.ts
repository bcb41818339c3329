/** The broker stands alone: nothing under `broker/` imports from the bridge (the bridge imports the broker, never the reverse). */
import { readdir, readFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const BROKER = resolve(import.meta.dirname, '../../broker');

describe('broker/', () => {
  it('imports only its own modules and packages, nothing from bridge/', async () => {
    const outside: string[] = [];
    for (const name of (await readdir(BROKER)).filter((f) => f.endsWith('.ts'))) {
      const text = await readFile(join(BROKER, name), 'utf8');
      for (const match of text.matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)) {
        const specifier = match[1] as string;
        if (!specifier.startsWith('.')) continue;
        if (relative(BROKER, resolve(BROKER, specifier)).startsWith('..')) outside.push(`${name}: ${specifier}`);
      }
    }
    expect(outside).toEqual([]);
  });
});

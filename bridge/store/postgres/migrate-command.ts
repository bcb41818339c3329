/**
 * The `migrate` subcommand of `bridge/cli.ts` (also `npm run migrate --`):
 * `paywire migrate --from-journal DATA_DIR --to postgres://…` (`--to` defaults to DATABASE_URL).
 * Prints what it copied; a failure is one line on stderr and a non-zero exit.
 */
import { readdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { describeUrl } from './database.js';
import { importJournal } from './import-journal.js';

const USAGE = 'usage: paywire migrate --from-journal DATA_DIR --to postgres://user:password@host:5432/db (or DATABASE_URL)';

function arg(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  return i === -1 ? undefined : argv[i + 1];
}

/** Returns the exit status. */
export async function migrateCommand(
  argv: string[],
  env: Record<string, string | undefined>,
  out: (line: string) => void,
  err: (line: string) => void,
): Promise<number> {
  const from = arg(argv, '--from-journal');
  const to = arg(argv, '--to') ?? env['DATABASE_URL'];
  if (!from || !to || !/^postgres(ql)?:\/\//.test(to)) {
    err(USAGE);
    return 2;
  }
  const dir = resolve(from);
  const files = await readdir(dir).catch(() => [] as string[]);
  if (!files.some((f) => f === 'paywire.json' || /^paywire\.wal\.\d+$/.test(f))) {
    err(`no journal store in ${dir} (expected paywire.json or paywire.wal.*)`);
    return 1;
  }
  try {
    const counts = await importJournal({ dataDir: dir, url: to });
    out(
      `copied ${Object.entries(counts)
        .map(([table, n]) => `${n} ${table}`)
        .join(', ')} from ${dir} to ${describeUrl(to)}`,
    );
    out('secrets.json stays in DATA_DIR: run the bridge with the same DATA_DIR (or a copy of secrets.json) and DATABASE_URL set.');
    return 0;
  } catch (e) {
    err(`migrate failed: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
}

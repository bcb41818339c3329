/**
 * `npm start`: load the configuration, start the bridge, print where it listens, stop cleanly on
 * SIGINT/SIGTERM. Configuration errors (and `--config` without a file) are printed all at once and
 * exit with status 2; a start that fails (a store that refuses to open, a port in use) prints one
 * line and exits with status 1. The log (JSON, or pretty on a terminal) goes to stdout after the
 * start lines.
 *
 * `npm start -- journal check` reports what is wrong with the store in DATA_DIR and what recovery would
 * drop, changing nothing (status 1 when it is damaged); `npm start -- journal recover` drops it, keeping
 * backups, and lists every dropped record. Run them with the bridge stopped.
 * `npm start -- migrate --from-journal DATA_DIR --to DATABASE_URL` copies a journal store into PostgreSQL.
 */
import { ConfigError, loadConfig, type Config } from './config.js';
import { createLogger } from './log.js';
import { Bridge } from './main.js';
import { Journal } from './store/journal/engine.js';
import { describeUrl } from './store/postgres/database.js';
import { migrateCommand } from './store/postgres/migrate-command.js';

/** `--config <file>` or `--config=<file>`; a `--config` without a file name is a configuration error. */
function configFileArg(argv: string[]): string | undefined {
  const joined = argv.find((a) => a.startsWith('--config='));
  if (joined !== undefined) {
    const file = joined.slice('--config='.length);
    if (file === '') throw new ConfigError(['--config= needs a file name: --config=paywire.json']);
    return file;
  }
  const i = argv.indexOf('--config');
  if (i === -1) return undefined;
  const file = argv[i + 1];
  if (file === undefined || file === '' || file.startsWith('--')) throw new ConfigError(['--config needs a file name: --config paywire.json']);
  return file;
}

/** The arguments that are not `--config <file>` or `--config=<file>`. */
function commandArgs(argv: string[]): string[] {
  const rest = argv.filter((a) => !a.startsWith('--config='));
  const i = rest.indexOf('--config');
  return i === -1 ? rest : [...rest.slice(0, i), ...rest.slice(i + 2)];
}

/** One line, whatever the error carries. */
function oneLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).replace(/\s*\n\s*/g, ' ');
}

async function journalCommand(action: string | undefined, config: Config): Promise<number> {
  if (action !== 'check' && action !== 'recover') {
    process.stderr.write('usage: npm start -- journal check|recover\n');
    return 2;
  }
  const journal = new Journal({ dir: config.dataDir, fsync: config.journalFsync, log: createLogger(config.logLevel).child({ component: 'journal' }) });
  if (!(await journal.exists())) {
    process.stdout.write(`journal ${action}: no store in ${config.dataDir}\n`);
    return 0;
  }
  const report = action === 'check' ? await journal.inspect() : await journal.recover();
  await journal.close();
  const out = [`journal ${action}: ${config.dataDir}: ${report.healthy ? 'the store opens as it is' : action === 'check' ? 'damaged' : 'recovered'}`];
  for (const problem of report.problems) out.push(`problem: ${problem}`);
  for (const done of report.actions) out.push(done);
  if (report.dropped.length > 0) {
    out.push(`${action === 'check' ? 'recovery would drop' : 'dropped'} ${report.dropped.length} record(s):`);
    for (const line of report.dropped) out.push(`  ${line}`);
  }
  process.stdout.write(`${out.join('\n')}\n`);
  return action === 'check' && !report.healthy ? 1 : 0;
}

async function main(): Promise<void> {
  if (process.argv[2] === 'migrate') {
    const write = (stream: NodeJS.WriteStream) => (line: string) => stream.write(`${line}\n`);
    process.exit(await migrateCommand(process.argv.slice(3), process.env, write(process.stdout), write(process.stderr)));
  }
  let config;
  try {
    const file = configFileArg(process.argv.slice(2));
    config = loadConfig(file === undefined ? { env: process.env } : { env: process.env, file });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const [command, action, ...extra] = commandArgs(process.argv.slice(2));
  if (command === 'journal' && extra.length === 0) {
    try {
      process.exit(await journalCommand(action, config));
    } catch (err) {
      process.stderr.write(`paywire journal ${String(action)}: ${oneLine(err)}\n`);
      process.exit(1);
    }
  }
  if (command !== undefined) {
    process.stderr.write(
      `unknown command ${JSON.stringify([command, action, ...extra].filter((a) => a !== undefined).join(' '))}; usage: npm start [-- --config <file>] | npm start -- journal check|recover | npm start -- migrate --from-journal DATA_DIR --to DATABASE_URL\n`,
    );
    process.exit(2);
  }
  const log = createLogger(config.logLevel, { format: config.logFormat });
  const bridge = new Bridge(config, log, {
    // Crash-only on storage failure: memory may hold writes the disk does not, so restart from the disk.
    onFatal: () => process.exit(70),
  });
  const info = await bridge.start();

  if (info.generatedAdminToken) {
    process.stdout.write(
      `admin token (shown once; its hash is in ${config.dataDir}/secrets.json; set ADMIN_TOKEN to choose your own): ${info.generatedAdminToken}\n`,
    );
  }
  const mqtt = info.mqttPort === undefined ? 'MQTT off' : `MQTT on port ${info.mqttPort}`;
  const store = config.databaseUrl === undefined ? '' : `; store PostgreSQL at ${describeUrl(config.databaseUrl)}`;
  process.stdout.write(
    `paywire bridge listening on http://${config.host}:${info.httpPort} (${mqtt}; public URL ${info.publicUrl}; data in ${config.dataDir}${store})\n`,
  );

  let stopping = false;
  const shutdown = (signal: NodeJS.Signals): void => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, 'stopping');
    bridge.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'stop failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}

main().catch((err: unknown) => {
  process.stderr.write(`paywire bridge failed to start: ${oneLine(err)}\n`);
  process.exit(1);
});

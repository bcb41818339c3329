/**
 * `npm start`: load the configuration, start the bridge, print where it listens, stop cleanly on
 * SIGINT/SIGTERM. Configuration errors are printed all at once and exit with status 2.
 * `npm start -- migrate --from-journal DATA_DIR --to DATABASE_URL` copies a journal store into PostgreSQL.
 */
import { ConfigError, loadConfig } from './config.js';
import { createLogger } from './log.js';
import { Bridge } from './main.js';
import { describeUrl } from './store/postgres/database.js';
import { migrateCommand } from './store/postgres/migrate-command.js';

function configFileArg(argv: string[]): string | undefined {
  const i = argv.indexOf('--config');
  return i === -1 ? undefined : argv[i + 1];
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
  const log = createLogger(config.logLevel);
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
  process.stdout.write(`paywire bridge listening on http://${config.host}:${info.httpPort} (${mqtt}; public URL ${info.publicUrl}; data in ${config.dataDir}${store})\n`);

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
  process.stderr.write(`paywire bridge failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});

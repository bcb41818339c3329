#!/usr/bin/env node
/**
 * `paywire-device --config device.json`: validate the config (every problem listed, exit 2), start
 * the daemon, stop it cleanly on SIGINT/SIGTERM (the relays off, `offline` on each status topic).
 */
import { parseArgs } from 'node:util';
import { ConfigError, loadConfigFile } from './config.js';
import { Daemon } from './daemon.js';
import { createLogger } from './log.js';

const USAGE = `usage: paywire-device --config <device.json> [--check]

  --config, -c   the JSON config (see device.example.json)
  --check        validate the config and the license key, then exit
  --help, -h     this text`;

async function main(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseArgs({ args: argv, options: { config: { type: 'string', short: 'c' }, check: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (args.values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const path = args.values.config ?? process.env['PAYWIRE_DEVICE_CONFIG'];
  if (!path) {
    process.stderr.write(`missing --config\n${USAGE}\n`);
    return 2;
  }
  let config;
  try {
    config = await loadConfigFile(path);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const log = createLogger(process.env['LOG_LEVEL'] ?? config.log_level);
  const daemon = new Daemon(config, log);
  if (args.values.check) {
    const verdict = daemon.license.checkOffline();
    process.stdout.write(
      `config ok: ${config.assets.length} asset(s)${config.license ? `; license ${verdict.ok ? 'valid (offline check)' : `refused: ${verdict.reason}`}` : ''}\n`,
    );
    return verdict.ok ? 0 : 3;
  }
  await daemon.start();
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log.info({ signal }, 'stopping');
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await daemon.stop();
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`paywire-device: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);

/**
 * The process logger (pino): one JSON line per entry on stdout, or, with `LOG_FORMAT=pretty` (or
 * `auto` on a terminal), one human-readable line (`log-pretty.ts`). Fields that name a secret are
 * censored whatever logs them; the code logs ids, never keys, tokens or passwords (a test greps a
 * whole run's log for every secret it made).
 */
import { pino, type DestinationStream, type Logger } from 'pino';
import type { LogFormat, LogLevel } from './config.js';
import { prettyLine } from './log-pretty.js';

/** Field names whose values are secrets, at the top level or one object down (`err.password`). */
const SECRET_FIELDS = [
  'password',
  'api_key',
  'apiKey',
  'token',
  'secret',
  'secrets',
  'authorization',
  'macaroon',
  'invoice_key',
  'webhook_secret',
  'admin_token',
];
export const REDACTED = '[redacted]';

export interface LoggerOptions {
  /** `auto` (the default) is pretty when the destination is stdout and stdout is a terminal. */
  format?: LogFormat;
  /** Where lines go (default stdout, written synchronously so nothing is lost on exit). */
  destination?: DestinationStream;
}

export function createLogger(level: LogLevel, options: LoggerOptions = {}): Logger {
  const out = options.destination ?? pino.destination({ dest: 1, sync: true });
  const format = options.format ?? 'auto';
  const pretty = format === 'pretty' || (format === 'auto' && options.destination === undefined && process.stdout.isTTY === true);
  const colour = pretty && options.destination === undefined && process.stdout.isTTY === true;
  const destination: DestinationStream = pretty ? { write: (line: string) => void out.write(prettyLine(line, colour)) } : out;
  return pino(
    {
      level,
      base: { svc: 'paywire' },
      redact: { paths: SECRET_FIELDS.flatMap((f) => [f, `*.${f}`, `*.headers.${f}`]), censor: REDACTED },
    },
    destination,
  );
}

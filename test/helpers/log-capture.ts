/** A real pino logger (the bridge's own `createLogger`) whose JSON lines are kept in memory for a test to read. */
import type { Logger } from 'pino';
import type { LogFormat, LogLevel } from '../../bridge/config.js';
import { createLogger } from '../../bridge/log.js';

export interface CapturedLog {
  log: Logger;
  /** Every line written, as written. */
  lines: string[];
  /** The lines parsed (JSON format only). */
  entries(): Record<string, any>[];
  /** Entries with this message. */
  find(msg: string): Record<string, any>[];
}

export function captureLog(level: LogLevel = 'trace', format: LogFormat = 'json'): CapturedLog {
  const lines: string[] = [];
  const log = createLogger(level, { format, destination: { write: (line: string) => void lines.push(line) } });
  const entries = () => lines.map((l) => JSON.parse(l) as Record<string, any>);
  return { log, lines, entries, find: (msg) => entries().filter((e) => e['msg'] === msg) };
}

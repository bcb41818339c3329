/** The process logger (pino, JSON lines on stderr so stdout stays for the start-up line). */
import { pino, type Logger } from 'pino';
import type { LogLevel } from './config.js';

export function createLogger(level: LogLevel): Logger {
  return pino({ level, base: { svc: 'paywire' } }, pino.destination(2));
}

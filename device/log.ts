/** The daemon's logger: pino JSON lines on stdout, which systemd keeps in the journal. */
import { pino, type Logger } from 'pino';

export function createLogger(level: string): Logger {
  return pino({ level, base: { service: 'paywire-device' }, timestamp: pino.stdTimeFunctions.isoTime });
}

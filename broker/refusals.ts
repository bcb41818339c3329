/**
 * What the MQTT path refuses, counted and logged. Each refusal counts once in
 * `paywire_refusals_total{component="mqtt",reason}` and is logged as a warning, at most
 * `linesPerMinute` lines a minute so a hostile client cannot flood the log (the next line says how
 * many were held back). Details are ids and topics, never passwords or payloads.
 */
import type { Logger } from 'pino';

/** Where refusals are counted (the bridge's `Metrics`). */
export interface RefusalCounter {
  refuse(component: string, reason: string): void;
}

export type RefusalReason =
  | 'client_id_invalid'
  | 'connections_total'
  | 'pending_per_address'
  | 'connections_per_account'
  | 'connections_per_credential'
  | 'sessions_per_account'
  | 'session_evicted'
  | 'will_not_allowed'
  | 'subscriptions_per_client'
  | 'queue_full'
  | 'retained_not_allowed'
  | 'retained_too_large'
  | 'retained_unknown_asset'
  | 'rate_limited';

export const REFUSAL_COMPONENT = 'mqtt';
const LOG_LINES_PER_MINUTE = 20;
/** Client ids and topics come from the client: a log line carries at most this much of each. */
const MAX_DETAIL_CHARS = 200;
const MINUTE_MS = 60_000;

export class Refusals {
  private readonly log: Logger;
  private readonly counter: RefusalCounter | undefined;
  private readonly linesPerMinute: number;
  private readonly now: () => number;
  private windowStart = 0;
  private lines = 0;
  private heldBack = 0;

  constructor(log: Logger, counter?: RefusalCounter, linesPerMinute = LOG_LINES_PER_MINUTE, now: () => number = Date.now) {
    this.log = log;
    this.counter = counter;
    this.linesPerMinute = linesPerMinute;
    this.now = now;
  }

  refuse(reason: RefusalReason, details: Record<string, unknown>, message = 'mqtt refused'): void {
    this.counter?.refuse(REFUSAL_COMPONENT, reason);
    const now = this.now();
    if (now - this.windowStart >= MINUTE_MS) {
      this.windowStart = now;
      this.lines = 0;
    }
    if (this.lines >= this.linesPerMinute) {
      this.heldBack += 1;
      return;
    }
    this.lines += 1;
    const heldBack = this.heldBack;
    this.heldBack = 0;
    const shown = Object.fromEntries(
      Object.entries(details).map(([k, v]) => [k, typeof v === 'string' && v.length > MAX_DETAIL_CHARS ? `${v.slice(0, MAX_DETAIL_CHARS)}…` : v]),
    );
    this.log.warn({ ...shown, reason, ...(heldBack > 0 ? { held_back: heldBack } : {}) }, message);
  }
}

/** A message refused on purpose (a limit or a rule): already counted and logged, it closes the client's connection. */
export class MessageRefused extends Error {
  readonly reason: RefusalReason;
  constructor(reason: RefusalReason) {
    super(`message refused: ${reason}`);
    this.name = 'MessageRefused';
    this.reason = reason;
  }
}

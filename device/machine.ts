/**
 * One asset's vending: a payment (or a manual trigger) is checked, dropped when the ledger has seen
 * it, written to the ledger, then run in order: relay on for its `duration_ms`, "paid" on the
 * displays (then the payment QR again), and a report on `…/action` carrying the `payment_id` (that
 * report acknowledges the payment to the bridge). Payments that arrive while the relay runs wait in
 * a bounded queue. Faults (a relay or display that fails, a license that stops vending) are
 * reported as `error` actions.
 */
import type { Logger } from 'pino';
import { z } from 'zod';
import type { ActionMessage, LicenseMessage } from '../broker/topics.js';
import type { AssetConfig } from './config.js';
import type { Ledger, LedgerEntry } from './ledger.js';
import type { LicenseGuard } from './license/guard.js';
import type { Display, FaultSource, Relay } from './outputs/types.js';

/** `…/payment` (broker/topics.ts PaymentMessage), checked at the edge. */
const paymentMessage = z.object({
  payment_id: z.string().min(1).max(64),
  asset_id: z.string().min(1).max(64),
  amount_sats: z.number().nonnegative(),
  rail: z.enum(['lightning', 'x402']),
  duration_ms: z.int().min(0).max(86_400_000),
  paid_at: z.string(),
});

/** `…/action/set` (ActionSetMessage). */
const actionSetMessage = z.object({
  trigger_id: z.string().min(1).max(64),
  duration_ms: z.int().min(0).max(86_400_000),
  reason: z.string().max(64),
});

const licenseMessage = z.union([
  z.object({ request_id: z.string(), ok: z.literal(true), license_id: z.string(), product_id: z.string(), product_slug: z.string(), issued_at: z.string() }),
  z.object({ request_id: z.string(), ok: z.literal(false), reason: z.string(), message: z.string().optional() }),
]);

export interface Job {
  /** `p:<payment_id>` or `t:<trigger_id>`. */
  id: string;
  durationMs: number;
  paymentId?: string;
  amountSats?: number;
  rail?: string;
  triggerId?: string;
  reason?: string;
  /** When its message arrived (performance.now(), this process): how long the daemon took to the pin. */
  arrivedAt?: number;
}

export interface MachineDeps {
  asset: AssetConfig;
  relay: Relay;
  displays: Display[];
  ledger: Ledger;
  license: LicenseGuard;
  maxQueue: number;
  log: Logger;
  /** Publish a report; resolves at its PUBACK. */
  report(message: ActionMessage): Promise<void>;
  /** The queue is full: drop the connection so the broker keeps the payment for later. */
  overflow(): void;
}

export interface MachineStats {
  vends: number;
  duplicates: number;
  queuedMax: number;
  faults: number;
}

export class AssetMachine {
  readonly stats: MachineStats = { vends: 0, duplicates: 0, queuedMax: 0, faults: 0 };
  private readonly queue: Job[] = [];
  private busy = false;
  private stopped = false;
  private readonly faulty = new Set<string>();
  private idleWaiters: (() => void)[] = [];
  private runTimer: NodeJS.Timeout | undefined;
  private leftOver: LedgerEntry[] = [];

  constructor(private readonly deps: MachineDeps) {
    for (const o of new Set<unknown>([deps.relay, ...deps.displays])) {
      const source = o as Partial<FaultSource>;
      source.onFault?.((f) => this.fault(f.output, f.message));
    }
    deps.license.on('change', (v) => {
      if (!v.ok) this.eachDisplay((d) => d.showText(v.message ?? 'License refused - vending stopped'));
      else this.eachDisplay((d) => d.showQr(deps.asset.qr));
      this.deps.log.warn({ asset_id: deps.asset.asset_id, license: v }, v.ok ? 'license valid: vending' : 'license refused: vending stopped');
    });
  }

  get assetId(): string {
    return this.deps.asset.asset_id;
  }

  get queued(): number {
    return this.queue.length;
  }

  /** Start the outputs (a failing one is reported, not fatal) and show the QR. */
  async start(): Promise<void> {
    const outputs = new Set([this.deps.relay, ...this.deps.displays]);
    await Promise.all(
      [...outputs].map((o) =>
        o.start().catch((err: Error) => {
          this.fault(o.name, `cannot start: ${err.message}`);
        }),
      ),
    );
    const v = this.deps.license.verdict;
    this.eachDisplay((d) => (v.ok ? d.showQr(this.deps.asset.qr) : d.showText(v.message ?? 'License refused - vending stopped')));
    // What the last run left, taken now: work this run takes meanwhile is not in it.
    this.leftOver = this.deps.ledger.unfinished().filter((e) => e.asset === this.assetId);
  }

  /**
   * What a previous run left (called once the MQTT client exists): queued work runs, an interrupted
   * run is reported (never run twice), reports are sent again.
   */
  resume(): void {
    const entries = this.leftOver;
    this.leftOver = [];
    for (const e of entries) {
      if (e.state === 'queued' && e.data) this.enqueue(e.data as Job);
      else if (e.state === 'running') {
        const job = e.data as Job | undefined;
        this.finish(e.id, {
          type: 'error',
          ...(job?.paymentId !== undefined ? { payment_id: job.paymentId } : {}),
          external_id: `interrupted-${e.id.slice(2)}`,
          data: { fault: 'interrupted', message: 'the daemon stopped while this ran: it may have run, and is not run again' },
        });
      } else if (e.state === 'done' && e.report) this.send(e.id, e.report);
    }
  }

  /** A message on `…/payment`: returns once it is on disk (then the PUBACK goes out). */
  async onPayment(payload: Buffer, arrivedAt = performance.now()): Promise<void> {
    const parsed = parseJson(payload, paymentMessage);
    if (!parsed.ok) {
      const id = paymentIdOf(payload);
      return this.refuse(id, `bad payment message: ${parsed.problem}`);
    }
    const p = parsed.value;
    if (p.asset_id !== this.assetId) return this.refuse(p.payment_id, `payment for asset ${p.asset_id} arrived on ${this.assetId}'s topic`);
    this.accept({
      id: `p:${p.payment_id}`,
      durationMs: Math.min(p.duration_ms, this.deps.asset.max_duration_ms),
      paymentId: p.payment_id,
      amountSats: p.amount_sats,
      rail: p.rail,
      arrivedAt,
    });
  }

  /** A manual trigger on `…/action/set`. */
  async onTrigger(payload: Buffer): Promise<void> {
    const parsed = parseJson(payload, actionSetMessage);
    if (!parsed.ok) return this.report({ type: 'error', data: { fault: 'bad_message', topic: 'action/set', message: parsed.problem } });
    const t = parsed.value;
    this.accept({ id: `t:${t.trigger_id}`, durationMs: Math.min(t.duration_ms, this.deps.asset.max_duration_ms), triggerId: t.trigger_id, reason: t.reason });
  }

  onLicense(payload: Buffer): void {
    const parsed = parseJson(payload, licenseMessage);
    if (!parsed.ok) return;
    this.deps.license.online(parsed.value as LicenseMessage);
  }

  private accept(job: Job): void {
    const seen = this.deps.ledger.get(this.assetId, job.id);
    if (seen) {
      // At least once from the bridge: a repeat is dropped (its report is sent again if still unanswered).
      this.stats.duplicates += 1;
      this.deps.log.debug({ asset_id: this.assetId, id: job.id, state: seen.state }, 'duplicate dropped');
      return;
    }
    if (this.queue.length >= this.deps.maxQueue) {
      this.deps.log.warn({ asset_id: this.assetId, queued: this.queue.length }, 'queue full: dropping the connection, the broker keeps the payment');
      this.deps.overflow();
      throw new Error('queue full');
    }
    if (!this.busy && this.queue.length === 0 && !this.stopped) {
      // Idle: straight to running (one disk write before the pin).
      this.run(job);
      return;
    }
    this.deps.ledger.set({ asset: this.assetId, id: job.id, state: 'queued', data: job }, true);
    this.enqueue(job);
  }

  private enqueue(job: Job): void {
    this.queue.push(job);
    this.stats.queuedMax = Math.max(this.stats.queuedMax, this.queue.length);
    if (!this.busy) this.next();
  }

  private next(): void {
    if (this.busy || this.stopped) return;
    const job = this.queue.shift();
    if (!job) {
      for (const w of this.idleWaiters.splice(0)) w();
      return;
    }
    this.run(job);
  }

  /** Run one job: ledger `running` (synced) → relay → displays → report; the relay's time → next. */
  private run(job: Job): void {
    this.busy = true;
    const assetId = this.assetId;
    const v = this.deps.license.verdict;
    if (!v.ok) {
      this.deps.ledger.set({ asset: assetId, id: job.id, state: 'running', data: job }, true);
      this.finish(job.id, {
        type: 'error',
        ...(job.paymentId !== undefined ? { payment_id: job.paymentId } : {}),
        external_id: `refused-${job.id.slice(2)}`,
        data: {
          fault: 'license',
          reason: v.reason ?? 'refused',
          message: v.message ?? 'license refused',
          ...(job.triggerId ? { trigger_id: job.triggerId } : {}),
        },
      });
      this.done();
      return;
    }
    const beforeLedger = performance.now();
    this.deps.ledger.set({ asset: assetId, id: job.id, state: 'running', data: job }, true);
    const started = Date.now();
    const pulsing = this.deps.relay.pulse(job.durationMs);
    // A pin relay has written its pin by now (pulse writes before its first await).
    const pinAt = performance.now();
    const timing = { ledger_ms: round(pinAt - beforeLedger), ...(job.arrivedAt !== undefined ? { daemon_ms: round(pinAt - job.arrivedAt) } : {}) };
    pulsing.then(
      () => {
        this.stats.vends += 1;
        this.healed(this.deps.relay.name);
        this.eachDisplay((d) =>
          d.showPaid(job.durationMs, {
            ...(job.amountSats !== undefined ? { amountSats: job.amountSats } : {}),
            ...(job.paymentId ? { paymentId: job.paymentId } : {}),
          }),
        );
        const data: Record<string, unknown> = { duration_ms: job.durationMs, fired_at: new Date(started).toISOString() };
        if (job.amountSats !== undefined) data['amount_sats'] = job.amountSats;
        if (job.rail !== undefined) data['rail'] = job.rail;
        if (job.triggerId !== undefined) Object.assign(data, { trigger_id: job.triggerId, reason: job.reason });
        this.finish(
          job.id,
          job.paymentId !== undefined
            ? { type: 'action', payment_id: job.paymentId, external_id: `vend-${job.paymentId}`, data }
            : { type: 'action', external_id: `trigger-${job.triggerId}`, data },
        );
        this.deps.log.info({ asset_id: assetId, id: job.id, duration_ms: job.durationMs, ...timing }, 'vend');
        // The relay is busy for its time; the next payment waits for it.
        this.runTimer = setTimeout(() => this.done(), job.durationMs);
      },
      (err: Error) => {
        this.stats.faults += 1;
        this.faulty.add(this.deps.relay.name);
        this.deps.log.error({ asset_id: assetId, id: job.id, output: this.deps.relay.name, err: err.message }, 'relay failed');
        this.finish(job.id, {
          type: 'error',
          ...(job.paymentId !== undefined ? { payment_id: job.paymentId } : {}),
          external_id: `fault-${job.id.slice(2)}`,
          data: { fault: 'relay', output: this.deps.relay.name, message: err.message, ...(job.triggerId ? { trigger_id: job.triggerId } : {}) },
        });
        this.done();
      },
    );
  }

  private done(): void {
    clearTimeout(this.runTimer);
    this.busy = false;
    this.next();
  }

  /** Record the report (`done`), then send it; `reported` once the bridge has it. */
  private finish(id: string, report: ActionMessage): void {
    this.deps.ledger.set({ asset: this.assetId, id, state: 'done', report }, true);
    this.send(id, report);
  }

  private send(id: string, report: ActionMessage): void {
    this.deps.report(report).then(
      () => {
        if (!this.stopped) this.deps.ledger.set({ asset: this.assetId, id, state: 'reported' }, false);
      },
      (err: Error) => this.deps.log.warn({ asset_id: this.assetId, id, err: err.message }, 'report not sent yet (sent again at the next start)'),
    );
  }

  /** A message that cannot be run: reported as an error (with its payment_id when it has one, which acknowledges it). */
  private refuse(paymentId: string | undefined, problem: string): void {
    this.deps.log.warn({ asset_id: this.assetId, payment_id: paymentId, problem }, 'payment refused');
    if (paymentId !== undefined) {
      if (this.deps.ledger.get(this.assetId, `p:${paymentId}`)) return;
      this.finish(`p:${paymentId}`, {
        type: 'error',
        payment_id: paymentId,
        external_id: `refused-${paymentId}`,
        data: { fault: 'bad_message', message: problem },
      });
    } else void this.report({ type: 'error', data: { fault: 'bad_message', topic: 'payment', message: problem } });
  }

  private report(message: ActionMessage): Promise<void> {
    return this.deps.report(message).catch(() => undefined);
  }

  /** A fault of an output, reported once until it works again. */
  private fault(output: string, message: string): void {
    this.stats.faults += 1;
    if (this.faulty.has(output)) return;
    this.faulty.add(output);
    this.deps.log.error({ asset_id: this.assetId, output, err: message }, 'output fault');
    void this.report({ type: 'error', data: { fault: 'output', output, message: message.slice(0, 500) } });
  }

  private healed(output: string): void {
    if (this.faulty.delete(output)) this.deps.log.info({ asset_id: this.assetId, output }, 'output works again');
  }

  private eachDisplay(action: (d: Display) => Promise<void>): void {
    for (const d of this.deps.displays) {
      action(d).then(
        () => this.healed(d.name),
        (err: Error) => this.fault(d.name, err.message),
      );
    }
  }

  /** Resolves when nothing runs or waits. */
  idle(): Promise<void> {
    if (!this.busy && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stop taking work; the relay is switched off; queued work stays in the ledger for the next start. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.runTimer);
    this.queue.length = 0;
    const outputs = new Set([this.deps.relay, ...this.deps.displays]);
    await Promise.all([...outputs].map((o) => o.stop().catch(() => undefined)));
  }
}

const round = (ms: number) => Math.round(ms * 1000) / 1000;

function parseJson<T>(payload: Buffer, schema: z.ZodType<T>): { ok: true; value: T } | { ok: false; problem: string } {
  let json: unknown;
  try {
    json = JSON.parse(payload.toString('utf8'));
  } catch {
    return { ok: false, problem: 'not JSON' };
  }
  const r = schema.safeParse(json);
  return r.success
    ? { ok: true, value: r.data }
    : { ok: false, problem: r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ') };
}

function paymentIdOf(payload: Buffer): string | undefined {
  try {
    const id = (JSON.parse(payload.toString('utf8')) as { payment_id?: unknown })?.payment_id;
    return typeof id === 'string' && id.length > 0 && id.length <= 64 ? id : undefined;
  } catch {
    return undefined;
  }
}

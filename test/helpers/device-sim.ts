/**
 * A machine as its firmware behaves, on the real `mqtt` client: subscribe to the asset's payment
 * topic, and report every payment message it receives as an `action` (QoS 1) carrying its
 * `payment_id`, even a repeat (the bridge re-sends only what it did not hear of). It records every raw
 * message (repeats included) and which reports the broker acknowledged (PUBACK = the bridge stored it).
 */
import type { IClientOptions } from 'mqtt';
import { connectMqtt, type TestClient } from './mqtt.js';

export interface Arrival {
  paymentId: string;
  /** Which connection (bridge run) it arrived on. */
  run: number;
  at: number;
}

export class DeviceSim {
  /** Every payment message, repeats included, in arrival order. */
  readonly arrivals: Arrival[] = [];
  /** Payments whose report's PUBACK came back. */
  readonly acked = new Set<string>();
  /** Reports sent on each connection and not answered yet (a dead connection's stay unanswered). */
  private readonly unanswered = new Map<TestClient, number>();
  /** Reports that failed (the connection went away first). */
  failed = 0;
  private current: TestClient | undefined;
  private whenClosed: Promise<void> = Promise.resolve();
  private readonly topic: string;
  private readonly action: string;
  private readonly autoAck: boolean;

  constructor(options: { paymentTopic: string; actionTopic: string; autoAck?: boolean }) {
    this.topic = options.paymentTopic;
    this.action = options.actionTopic;
    this.autoAck = options.autoAck ?? true;
  }

  get client(): TestClient | undefined {
    return this.current;
  }

  /** Reports sent on the current connection and not answered yet. */
  get pending(): number {
    return this.current ? (this.unanswered.get(this.current) ?? 0) : 0;
  }

  /** Connect (clean session), subscribe to the payment topic; `run` labels what arrives on this connection. */
  async connect(url: string, login: IClientOptions, run: number): Promise<void> {
    const c = await connectMqtt(url, { clean: true, ...login });
    this.current = c;
    this.whenClosed = new Promise((resolve) => c.client.once('close', () => resolve()));
    c.client.on('message', (topic, payload) => {
      if (topic !== this.topic) return;
      const paymentId = (JSON.parse(payload.toString('utf8')) as { payment_id: string }).payment_id;
      this.arrivals.push({ paymentId, run, at: Date.now() });
      if (this.autoAck) this.report(c, paymentId);
    });
    await c.client.subscribeAsync(this.topic, { qos: 1 });
  }

  /** Publish the action report for one payment (QoS 1). */
  report(c: TestClient, paymentId: string): void {
    this.unanswered.set(c, (this.unanswered.get(c) ?? 0) + 1);
    c.client
      .publishAsync(this.action, JSON.stringify({ type: 'action', payment_id: paymentId, external_id: `ack-${paymentId}` }), { qos: 1 })
      .then(
        () => this.acked.add(paymentId),
        () => {
          this.failed += 1;
        },
      )
      .finally(() => {
        this.unanswered.set(c, (this.unanswered.get(c) ?? 1) - 1);
      });
  }

  /** Resolves when the current connection is closed (by the broker going away, or by `end`). */
  closed(): Promise<void> {
    return this.whenClosed;
  }

  async end(): Promise<void> {
    await this.current?.end().catch(() => undefined);
  }

  /** How many times each payment arrived, over all runs (or one). */
  counts(run?: number): Map<string, number> {
    const counts = new Map<string, number>();
    for (const a of this.arrivals) if (run === undefined || a.run === run) counts.set(a.paymentId, (counts.get(a.paymentId) ?? 0) + 1);
    return counts;
  }
}

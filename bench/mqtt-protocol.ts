/**
 * What `bench/mqtt.ts` (the bridge's thread) and `bench/mqtt-worker.ts` (the clients' thread) say to
 * each other. Every request carries an `id` and gets one reply with the same `id`. Times are
 * milliseconds of `process.hrtime` (CLOCK_MONOTONIC), which every thread of a process shares.
 */

/** An MQTT login (omitted for anonymous brokers). */
export interface Login {
  username: string;
  password: string;
}

/** One device: a client logged in with its asset's device credential, subscribed to `topic`. */
export interface DeviceSpec extends Login {
  topic: string;
  assetId: string;
}

/** One settle to make: the payment hash and the device (index) whose asset the invoice belongs to. */
export interface SettleJob {
  hash: string;
  device: number;
}

/** Open loop at `rate` per second, or one at a time (each waits for its device's message). */
export type SettleMode = { kind: 'rate'; rate: number } | { kind: 'serial' };

/** One publisher -> subscriber pair of the throughput harness, on one topic. */
export interface FloodPair {
  pub?: Login;
  sub?: Login;
  topic: string;
}

export type WorkerRequest =
  | { id: number; cmd: 'clock' }
  | { id: number; cmd: 'devices'; url: string; devices: DeviceSpec[]; concurrency: number }
  | { id: number; cmd: 'settle'; base: string; adminToken: string; mode: SettleMode; jobs: SettleJob[] }
  | { id: number; cmd: 'drain' }
  | { id: number; cmd: 'close-devices' }
  | { id: number; cmd: 'flood'; url: string; pairs: FloodPair[]; messages: number; window: number; payload: 'binary' | 'action-json'; budgetMs: number };

/** A `…/payment` message as a device got it. */
export interface Receipt {
  device: number;
  at: number;
  paymentId: string;
  assetId: string;
  amountSats: number;
  durationMs: number;
  rail: string;
}

/** One settle as the payer saw it: sent just before the request went out, answered when its body was read. */
export interface SettleResult {
  hash: string;
  device: number;
  sent: number;
  answered: number;
  status: number;
  paymentId: string;
  alreadySettled: boolean;
  body: string;
}

export interface SettleReply {
  results: SettleResult[];
  /** Every `…/payment` message received since the last `settle` or `drain`. */
  receipts: Receipt[];
  /** Achieved send rate, longest lateness of a scheduled send, most settles in flight at once. */
  achieved: number;
  lagMaxMs: number;
  inFlightMax: number;
  /** Longest event-loop delay and longest garbage-collection pause in the clients' thread during the phase. */
  loopMaxMs: number;
  gcMaxMs: number;
}

export interface FloodReply {
  /** Messages the subscribers received (all of them; duplicates counted apart). */
  received: number;
  acked: number;
  duplicates: number;
  /** First publish -> last message received. */
  ms: number;
  connectMs: number;
  loopMaxMs: number;
}

export type WorkerReply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: string };

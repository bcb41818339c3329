/**
 * Run by outbound-deadline.test.ts as `node --expose-gc --import tsx deadline-child.ts`: sends a
 * webhook (through a real bridge) and a direct guarded request to a server that accepts and never
 * answers, with a 300 ms deadline, while forcing garbage collections in a loop. Prints one JSON line:
 * how long each took to give up (null: still waiting after 10 s), the attempt's own recorded duration,
 * and what it recorded.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Outbound } from '../../bridge/http/outbound.js';
import { OutboundAllow } from '../../bridge/http/ssrf.js';
import { startBridge } from '../helpers/bridge.js';

const DEADLINE_MS = 300;
const GIVE_UP_MS = 10_000;
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');

const sockets = new Set<Socket>();
const blackHole: Server = createServer(() => undefined); // reads the request, never answers
blackHole.on('connection', (s: Socket) => sockets.add(s));
await new Promise<void>((resolve) => blackHole.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${(blackHole.address() as AddressInfo).port}/hook`;

const t = await startBridge({ WEBHOOK_TIMEOUT_MS: DEADLINE_MS, WEBHOOK_RETRY_SCHEDULE_MS: '600000', JOURNAL_FSYNC: false });
const result: Record<string, unknown> = {};
let collector: NodeJS.Timeout | undefined;
try {
  const { key } = await t.signup('dead-endpoint');
  await t.request('PUT', '/api/v1/accounts/me/webhook', { token: key, body: { url } });
  // From here on, collections all the time.
  collector = setInterval(gc, 20);
  const started = Date.now();
  await t.request('POST', '/api/public/events', { token: key, body: { type: 'paid' } });
  result['webhook'] = { ms: null };
  while (Date.now() - started < GIVE_UP_MS) {
    const attempt = (await t.request('GET', '/api/v1/accounts/me/webhook/deliveries', { token: key })).body.deliveries[0]?.attempts[0];
    if (attempt) {
      result['webhook'] = { ms: Date.now() - started, attemptMs: attempt.duration_ms, error: attempt.error };
      break;
    }
    await new Promise((r) => setTimeout(r, 20));
  }

  const allow = OutboundAllow.parse('127.0.0.1');
  if ('error' in allow) throw new Error(allow.error);
  const outbound = new Outbound({ allow: allow.value });
  const began = Date.now();
  let waiting: NodeJS.Timeout | undefined;
  result['direct'] = await Promise.race([
    outbound.request(url, { method: 'POST', body: '{}', timeoutMs: DEADLINE_MS }).then(
      () => ({ ms: Date.now() - began, error: null }),
      (err: Error) => ({ ms: Date.now() - began, error: err.message }),
    ),
    new Promise<{ ms: null }>((resolve) => {
      waiting = setTimeout(() => resolve({ ms: null }), GIVE_UP_MS);
    }),
  ]);
  clearTimeout(waiting);
} finally {
  clearInterval(collector);
  await t.close();
  for (const s of sockets) s.destroy();
  blackHole.close();
}
process.stdout.write(`${JSON.stringify(result)}\n`);

/**
 * `npm run webhook-receiver`: the local receiver the README's tour points a webhook at. Started as
 * the tour starts it, against a live bridge: it fetches the bridge's key, verifies a real delivery
 * and prints it, and the bridge records the delivery as delivered; a forged or stale delivery is
 * answered 401 and printed as refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pkg from '../../package.json' with { type: 'json' };
import { startBridge, type TestBridge } from '../helpers/bridge.js';
import { ROOT } from '../helpers/process.js';
import { until } from '../helpers/receiver.js';
import { watch, type Watched } from '../helpers/run.js';

let t: TestBridge;
let receiver: Watched;
let url: string;

beforeAll(async () => {
  t = await startBridge();
  // What `npm run webhook-receiver -- …` runs (checked below), without npm between the test and the process it kills.
  const [node, ...args] = pkg.scripts['webhook-receiver'].split(' ');
  expect(node).toBe('node');
  receiver = watch(process.execPath, [...args.map((a) => (a.endsWith('.ts') ? `${ROOT}${a}` : a)), '--port', '0', '--bridge', t.url], 60_000);
  await receiver.waitFor(/listening on http:\/\/127\.0\.0\.1:\d+\//, 20_000);
  url = /listening on (http:\/\/127\.0\.0\.1:\d+\/)/.exec(receiver.stdout())?.[1] as string;
});
afterAll(async () => {
  receiver?.child.kill('SIGTERM');
  await receiver?.exited;
  await t?.close();
});

describe('npm run webhook-receiver', () => {
  it('is an npm script', () => {
    expect(pkg.scripts['webhook-receiver']).toBe('node --import tsx tools/webhook-receiver.ts');
  });

  it('names the key it verifies with', () => {
    expect(receiver.stdout()).toMatch(
      new RegExp(`^paywire webhook receiver listening on http://127\\.0\\.0\\.1:\\d+/ \\(key [0-9a-f]{16} from ${t.url.replace(/[.]/g, '\\.')}\\)\\n`),
    );
  });

  it('verifies a real delivery from the bridge and prints it', async () => {
    const { key } = await t.signup('receiver-bot');
    expect((await t.request('PUT', '/api/v1/accounts/me/webhook', { token: key, body: { url } })).status).toBe(200);
    const event = await t.request('POST', '/api/public/events', {
      token: key,
      body: { type: 'custom', external_id: 'receiver-0001', data: { hello: 'world' } },
    });
    expect(event.status).toBe(201);
    await receiver.waitFor(/verified event\.custom \S+\n\{/, 10_000);
    const out = receiver.stdout();
    const start = out.indexOf('verified event.custom ');
    const [head, ...rest] = out.slice(start).split('\n');
    expect(head).toMatch(/^verified event\.custom msg_\S+$/);
    const json = rest.slice(0, rest.indexOf('}') + 1).join('\n');
    expect(JSON.parse(json)).toMatchObject({
      type: 'event.custom',
      data: { event_id: event.body.event_id, external_id: 'receiver-0001', data: { hello: 'world' } },
    });
    // The receiver answered 2xx: the bridge marks the delivery delivered.
    const delivered = await until(
      async () => {
        const res = await t.request('GET', '/api/v1/accounts/me/webhook/deliveries', { token: key });
        return res.body.deliveries?.find((d: any) => d.status === 'delivered');
      },
      5000,
      'the delivery to be recorded',
    );
    expect(delivered.attempts.at(-1).status_code).toBe(204);
  });

  it('refuses a forged or stale delivery with 401 and says so', async () => {
    const now = Math.floor(Date.now() / 1000);
    const forged = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'webhook-id': 'msg_forged',
        'webhook-timestamp': String(now),
        'webhook-signature': `v1a,${Buffer.alloc(64).toString('base64')}`,
      },
      body: '{"type":"event.paid"}',
    });
    expect(forged.status).toBe(401);
    const stale = await fetch(url, {
      method: 'POST',
      headers: { 'webhook-id': 'msg_stale', 'webhook-timestamp': String(now - 3600), 'webhook-signature': 'v1a,AAAA' },
      body: '{}',
    });
    expect(stale.status).toBe(401);
    await receiver.waitFor('REFUSED msg_stale', 5000);
    expect(receiver.stdout()).toContain('REFUSED msg_forged: no v1a signature verifies');
    expect(receiver.stdout()).toContain('REFUSED msg_stale: webhook-timestamp is more than 300 s away from now');
  });
});

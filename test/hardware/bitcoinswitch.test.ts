/**
 * LNbits bitcoinSwitch firmware, unmodified, on a Paywire asset (bridge/devices/bitcoinswitch.ts).
 * The client here does exactly what the firmware does (lnbits/bitcoinswitch bitcoinSwitch.ino): open
 * the WebSocket at the device string's path, send the text `Connected`, and read text frames
 * `<pin>-<duration ms>`. Payments are made as a wallet does (LNURL callback) and settled by the dev backend.
 */
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, startBridge, type TestBridge } from '../helpers/bridge.js';
import { createMachine, deviceLogin, invoice, pay, settle, type Machine } from '../helpers/machine.js';

let t: TestBridge;
let m: Machine;

beforeAll(async () => {
  t = await startBridge({ LIGHTNING_POLL_MS: 50 });
  m = await createMachine(t.url, 'Claw machine', { duration_ms: 2500 });
});
afterAll(async () => {
  await t.close();
});

/** Issue a device credential; its response carries the bitcoinSwitch device string. */
async function deviceString(machine = m): Promise<{ deviceString: string; credentialId: string }> {
  const res = await t.request('POST', `/api/v1/assets/${machine.assetId}/device-credentials`, { token: machine.key, body: { label: 'bitcoinSwitch' } });
  expect(res.status).toBe(201);
  return { deviceString: res.body.bitcoinswitch.device_string as string, credentialId: res.body.credential_id as string };
}

interface Switch {
  ws: WebSocket;
  frames: string[];
  closed: Promise<number>;
  next(timeoutMs?: number): Promise<string>;
}

/** Connect as the firmware does: WebSocket to the device string, then the text "Connected". */
function connect(url: string): Promise<Switch> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const frames: string[] = [];
    const waiters: Array<() => void> = [];
    const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
    ws.on('message', (data, isBinary) => {
      expect(isBinary).toBe(false);
      frames.push(data.toString());
      for (const w of waiters.splice(0)) w();
    });
    ws.on('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.on('error', reject);
    ws.on('open', () => {
      ws.send('Connected');
      let read = 0;
      resolve({
        ws,
        frames,
        closed,
        next: (timeoutMs = 5_000) =>
          new Promise<string>((res, rej) => {
            const take = () => {
              if (read < frames.length) return res(frames[read++] as string);
              const timer = setTimeout(() => rej(new Error(`no frame within ${timeoutMs} ms; got ${JSON.stringify(frames)}`)), timeoutMs);
              waiters.push(() => {
                clearTimeout(timer);
                take();
              });
            };
            take();
          }),
      });
    });
  });
}

async function refusal(url: string): Promise<string> {
  return connect(url).then(
    (s) => {
      s.ws.close();
      return 'connected';
    },
    (err: Error) => err.message,
  );
}

describe('LNbits bitcoinSwitch on a Paywire asset', () => {
  it('hands out a device string: /api/v1/ws/<credential id + 128-bit tag>?pin=4', async () => {
    const { deviceString: s, credentialId } = await deviceString();
    const url = new URL(s);
    expect(url.protocol).toBe('ws:'); // wss: behind an https PUBLIC_URL
    expect(url.host).toBe(new URL(t.info.publicUrl).host);
    expect(url.pathname).toMatch(new RegExp(`^/api/v1/ws/${credentialId}[0-9a-f]{32}$`));
    expect(url.search).toBe('?pin=4');
    // A second credential gets a different id.
    const other = await deviceString();
    expect(new URL(other.deviceString).pathname).not.toBe(url.pathname);
  });

  it('a settled payment sends <pin>-<duration ms> to the connected switch', async () => {
    const { deviceString: s } = await deviceString();
    const sw = await connect(s);
    const hash = await invoice(m);
    expect(sw.frames).toEqual([]);
    await settle(t.url, ADMIN_TOKEN, hash);
    expect(await sw.next()).toBe('4-2500');
    // The payment left the outbox: the frame was written to the switch.
    const payments = await t.request('GET', `/api/v1/assets/${m.assetId}/payments`, { token: m.key });
    const paid = (payments.body.payments as Array<{ payment_hash: string; delivered_at: string | null }>).find((p) => p.payment_hash === hash);
    expect(paid?.delivered_at).not.toBeNull();
    sw.ws.close();
    await sw.closed;
  });

  it('drives the GPIO of the pin query, each payment once, for the asset’s duration', async () => {
    const { deviceString: s } = await deviceString();
    const sw = await connect(s.replace('pin=4', 'pin=12'));
    await pay(m, ADMIN_TOKEN);
    await pay(m, ADMIN_TOKEN);
    expect(await sw.next()).toBe('12-2500');
    expect(await sw.next()).toBe('12-2500');
    await new Promise((r) => setTimeout(r, 300));
    expect(sw.frames).toHaveLength(2);
    sw.ws.close();
    await sw.closed;
  });

  it('a switch that was away is sent the payments it missed when it connects, and only once', async () => {
    const other = await createMachine(t.url, 'Lamp', { duration_ms: 700 });
    const { deviceString: s } = await deviceString(other);
    await pay(other, ADMIN_TOKEN);
    await pay(other, ADMIN_TOKEN);
    const sw = await connect(s);
    expect(await sw.next()).toBe('4-700');
    expect(await sw.next()).toBe('4-700');
    sw.ws.close();
    await sw.closed;
    const again = await connect(s);
    await new Promise((r) => setTimeout(r, 300));
    expect(again.frames).toEqual([]);
    again.ws.close();
    await again.closed;
  });

  it('keeps assets apart: another asset’s payment reaches only its own switch', async () => {
    const other = await createMachine(t.url, 'Gumball', { duration_ms: 900 });
    const mine = await connect((await deviceString()).deviceString);
    const theirs = await connect((await deviceString(other)).deviceString);
    await pay(other, ADMIN_TOKEN);
    expect(await theirs.next()).toBe('4-900');
    await new Promise((r) => setTimeout(r, 300));
    expect(mine.frames).toEqual([]);
    mine.ws.close();
    theirs.ws.close();
    await Promise.all([mine.closed, theirs.closed]);
  });

  it('refuses a wrong tag, an unknown credential, a bad path or pin, without telling which', async () => {
    const { deviceString: s, credentialId } = await deviceString();
    const url = new URL(s);
    const tag = url.pathname.slice(-32);
    const flipped = `${tag.slice(0, -1)}${tag.endsWith('0') ? '1' : '0'}`;
    expect(await refusal(s.replace(tag, flipped))).toBe('HTTP 404');
    expect(await refusal(s.replace(credentialId, 'zzzzzzzzzzzzzzz'))).toBe('HTTP 404');
    expect(await refusal(`${url.origin.replace('http', 'ws')}/api/v1/ws/${credentialId}`)).toBe('HTTP 404');
    expect(await refusal(`${url.origin.replace('http', 'ws')}/api/v1/ws/`)).toBe('HTTP 404');
    expect(await refusal(s.replace('pin=4', 'pin=x'))).toBe('HTTP 400');
    expect(await refusal(s.replace('pin=4', 'pin=100'))).toBe('HTTP 400');
    // Other paths are not the switch's: MQTT over WebSocket still answers at /mqtt, the rest 404.
    expect(await refusal(`${url.origin.replace('http', 'ws')}/nope`)).toBe('HTTP 404');
  });

  it('counts connected switches and refusals in /metrics', async () => {
    const scrape = async () => (await t.request('GET', '/metrics', { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).text;
    const sample = (text: string, name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1] ?? NaN);
    const refused = (text: string) => Number(/^paywire_refusals_total\{component="bitcoinswitch",reason="unknown_switch"\} (\d+)$/m.exec(text)?.[1] ?? 0);
    const before = await scrape();
    const { deviceString: s } = await deviceString();
    const sw = await connect(s);
    const during = await scrape();
    expect(sample(during, 'paywire_bitcoinswitch_connections')).toBe(sample(before, 'paywire_bitcoinswitch_connections') + 1);
    expect(await refusal(s.replace('/api/v1/ws/', '/api/v1/ws/x'))).toBe('HTTP 404');
    expect(refused(await scrape())).toBe(refused(before) + 1);
    sw.ws.close();
    await sw.closed;
  });

  it('revoking the credential disconnects the switch and refuses it from then on', async () => {
    const { deviceString: s, credentialId } = await deviceString();
    const sw = await connect(s);
    const res = await t.request('DELETE', `/api/v1/assets/${m.assetId}/device-credentials/${credentialId}`, { token: m.key });
    expect(res.status).toBe(200);
    expect(await sw.closed).toBe(1008);
    expect(await refusal(s)).toBe('HTTP 404');
  });
});

/**
 * `npm run demo`: the whole path in one terminal, for a new user. It starts a bridge (dev Lightning
 * backend, a throwaway data directory), makes an account, an asset with its payment link and a
 * device credential, starts the device daemon (`device/cli.ts`, the console relay and display) as a
 * child process, then pays twice as a wallet does (LUD-06 callback for an invoice, then the admin's
 * dev settle) and prints each step with its time: invoice → settle → MQTT → relay on → display
 * "paid" → vend event → relay off → the payment QR again.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { loadConfig } from '../bridge/config.js';
import { createLogger } from '../bridge/log.js';
import { Bridge } from '../bridge/main.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const DURATION_MS = 1_500;
const ADMIN = randomBytes(24).toString('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let t0 = Date.now();
let steps: [number, string][] = [];
const line = (at: number, what: string) => steps.push([at, what]);
/** The round's steps in the order they happened (the daemon's times come from its own log lines). */
const print = () => {
  for (const [at, what] of steps.sort((a, b) => a[0] - b[0])) console.log(`  ${`+${(at - t0).toFixed(1)} ms`.padStart(12)}  ${what}`);
  steps = [];
};

async function api(base: string, method: string, path: string, token?: string, body?: unknown): Promise<any> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const json = (await res.json()) as any;
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'paywire-demo-'));
  const config = loadConfig({
    env: {},
    overrides: { PORT: 0, HOST: '127.0.0.1', MQTT_PORT: 0, DATA_DIR: join(dir, 'bridge'), LOG_LEVEL: 'silent', ADMIN_TOKEN: ADMIN },
  });
  const bridge = new Bridge(config, createLogger('silent'));
  const info = await bridge.start();
  const mqttUrl = `mqtt://127.0.0.1:${info.mqttPort}`;
  console.log(`bridge: ${info.url} (MQTT ${mqttUrl}), dev Lightning backend, data in ${dir}`);

  const account = await api(info.url, 'POST', '/api/v1/accounts', undefined, { label: 'demo-coffee' });
  const key = account.api_key as string;
  const asset = await api(info.url, 'POST', '/api/v1/assets', key, { name: 'Demo coffee machine', price_sats: 100, duration_ms: DURATION_MS });
  const link = await api(info.url, 'POST', `/api/v1/assets/${asset.asset_id}/payment-link`, key);
  const credential = await api(info.url, 'POST', `/api/v1/assets/${asset.asset_id}/device-credentials`, key, { label: 'demo daemon' });
  console.log(`asset ${asset.asset_id} (100 sats, runs ${DURATION_MS} ms); device login ${credential.username}`);

  const deviceConfig = {
    account_id: account.user_id,
    mqtt: { url: mqttUrl },
    state_dir: join(dir, 'device'),
    log_level: 'info',
    assets: [
      {
        asset_id: asset.asset_id,
        qr: link.lnurl,
        relay: { type: 'console' },
        displays: [{ type: 'console' }],
        login: { username: credential.username, password: credential.password },
      },
    ],
  };
  await writeFile(join(dir, 'device.json'), JSON.stringify(deviceConfig, null, 2));
  const daemon = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'device/cli.ts'), '--config', join(dir, 'device.json')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const logs: Record<string, any>[] = [];
  let partial = '';
  daemon.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    partial += chunk;
    const parts = partial.split('\n');
    partial = parts.pop() ?? '';
    for (const p of parts) {
      try {
        logs.push(JSON.parse(p) as Record<string, any>);
      } catch {
        // not a log line
      }
    }
  });
  const until = async (what: string, check: () => boolean, ms = 15_000) => {
    const deadline = Date.now() + ms;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`demo: timed out waiting for ${what}`);
      await sleep(5);
    }
  };
  await until('the daemon', () => logs.some((l) => l['msg'] === 'paywire-device running'));
  const qr = logs.find((l) => l['screen'] === 'qr');
  console.log(`device daemon running (pid ${daemon.pid}); its display shows the payment QR: ${String(qr?.['qr']).slice(0, 40)}…\n`);

  // A watcher on the asset's payment topic (account login, clean session: it never acknowledges).
  const watcher = await mqtt.connectAsync(mqttUrl, { username: account.user_id, password: key, clean: true, protocolVersion: 4, reconnectPeriod: 0 });
  const heard = new Map<string, number>();
  watcher.on('message', (_t, payload) => heard.set((JSON.parse(payload.toString()) as { payment_id: string }).payment_id, Date.now()));
  await watcher.subscribeAsync(`paywire/${account.user_id}/${asset.asset_id}/payment`, { qos: 1 });

  for (let round = 1; round <= 2; round++) {
    console.log(`payment ${round}:`);
    const seen = logs.length;
    t0 = Date.now();
    const payRequest = await api(link.url, 'GET', '');
    const invoice = await api(payRequest.callback.split('?')[0], 'GET', `?amount=${100_000}`);
    const hash = String(invoice.verify).split('/').pop()!;
    line(Date.now(), `invoice: ${String(invoice.pr).slice(0, 32)}… (the wallet asked the LUD-06 callback)`);
    const settleAt = Date.now();
    const settled = await api(info.url, 'POST', `/api/v1/dev/payments/${hash}/settle`, ADMIN);
    line(settleAt, `settle sent (the wallet pays; the admin's dev settle stands in for it)`);
    line(Date.now(), `settle answered: payment ${settled.payment_id}`);
    const id = settled.payment_id as string;
    await until('the MQTT message', () => heard.has(id));
    line(heard.get(id)!, `MQTT: a watcher on …/payment has the message (QoS 1)`);
    const fresh = () => logs.slice(seen);
    await until('relay on', () => fresh().some((l) => l['msg'] === 'relay on'));
    const on = fresh().find((l) => l['msg'] === 'relay on')!;
    line(on['at'], `relay ON for ${DURATION_MS} ms (device daemon)`);
    await until('paid screen', () => fresh().some((l) => l['screen'] === 'paid'));
    line(fresh().find((l) => l['screen'] === 'paid')!['at'], `display: "paid"`);
    const events = async () => (await api(info.url, 'GET', `/api/public/events?asset_id=${asset.asset_id}&type=action&limit=20`, key)).events as any[];
    let event: any;
    await until('the vend event', () => event !== undefined, 10_000).catch(() => undefined);
    for (let i = 0; i < 200 && event === undefined; i++) {
      event = (await events()).find((e) => e.data?.payment_id === id);
      if (event === undefined) await sleep(10);
    }
    line(
      Date.parse(event.created_at ?? event.created ?? new Date().toISOString()),
      `vend event stored: ${event.event_id} (external_id ${event.external_id}; it acknowledges the payment)`,
    );
    await until('relay off', () => fresh().some((l) => l['msg'] === 'relay off'));
    line(fresh().find((l) => l['msg'] === 'relay off')!['at'], `relay OFF`);
    await until('QR again', () => fresh().some((l) => l['screen'] === 'qr'));
    line(fresh().find((l) => l['screen'] === 'qr')!['at'], `display: the payment QR again`);
    print();
    console.log('');
  }

  await watcher.endAsync();
  daemon.kill('SIGTERM');
  await new Promise((r) => daemon.on('exit', r));
  await bridge.stop();
  await rm(dir, { recursive: true, force: true });
  console.log('done: the daemon said offline and stopped, the bridge stopped, the demo data is removed.');
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

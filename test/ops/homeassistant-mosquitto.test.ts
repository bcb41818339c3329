/**
 * Home Assistant beside an existing broker, as docs/home-assistant.md tells users to set it up: a
 * real Mosquitto (/usr/sbin/mosquitto, on a free port of its own with a temporary config, never the
 * machine's own on 1883) bridged to a Paywire bridge with HOMEASSISTANT_DISCOVERY on, using the
 * bridge connection printed in the document. Home Assistant is played by an `mqtt` client on
 * Mosquitto, the machine by one on Paywire: the discovery configs arrive at home retained under
 * `homeassistant/`, a sale updates the sensors' state at home, and a press of the Test vend button
 * published at home runs the machine on Paywire's side.
 * Needs the Debian package `mosquitto` (.ci/run installs it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { access, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../helpers/process.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, startBridge, type TestBridge } from '../helpers/bridge.js';
import { createMachine, deviceLogin, pay, type Machine } from '../helpers/machine.js';
import { connectMqtt, type TestClient } from '../helpers/mqtt.js';
import { until } from '../helpers/receiver.js';

const MOSQUITTO = '/usr/sbin/mosquitto';
const DOC = new URL('../../docs/home-assistant.md', import.meta.url);
/** The placeholders of the document's example, replaced by this test's account, key and broker. */
const DOC_USER = 'w8dxrelp66cdxb9';
const DOC_KEY = 'lib_YOUR_FULL_SCOPE_API_KEY';
const DOC_ADDRESS = 'paywire.example.com:1883';

let t: TestBridge;
let m: Machine;
let dir: string;
let mosquitto: ChildProcess | undefined;
let mosquittoLog = '';
let home: number;
const clients: TestClient[] = [];

/** The `conf` block of the document, made this test's. */
async function bridgeConfig(): Promise<string> {
  const doc = await readFile(DOC, 'utf8');
  const block = /```conf\n([\s\S]*?)```/.exec(doc)?.[1];
  if (!block) throw new Error('docs/home-assistant.md has no ```conf block');
  return block.replaceAll(DOC_USER, m.userId).replaceAll(DOC_KEY, m.key).replaceAll(DOC_ADDRESS, `127.0.0.1:${t.info.mqttPort}`);
}

async function homeClient(): Promise<TestClient> {
  const c = await connectMqtt(`mqtt://127.0.0.1:${home}`, {});
  clients.push(c);
  return c;
}

const CONFIGS = ['button/paywire_%/test_vend/config', 'sensor/paywire_%/sales/config', 'sensor/paywire_%/revenue/config'];

beforeAll(async () => {
  try {
    await access(MOSQUITTO);
  } catch {
    throw new Error(`${MOSQUITTO} is not installed: install the Debian package mosquitto (apt-get install mosquitto), as .ci/run does`);
  }
  t = await startBridge({ HOMEASSISTANT_DISCOVERY: true });
  // The asset exists before the bridge connects, as when a user sets this up.
  m = await createMachine(t.url, 'Coffee machine');
  dir = await mkdtemp(join(tmpdir(), 'paywire-mosquitto-'));
  home = await freePort();
  const file = join(dir, 'mosquitto.conf');
  // The user's own broker (its listener, here on a free port), then the document's bridge connection.
  await writeFile(file, `listener ${home} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest stderr\n\n${await bridgeConfig()}`);
  mosquitto = spawn(MOSQUITTO, ['-c', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  mosquitto.stdout?.on('data', (d: Buffer) => (mosquittoLog += d.toString()));
  mosquitto.stderr?.on('data', (d: Buffer) => (mosquittoLog += d.toString()));
  await until(
    async () => {
      if (mosquitto?.exitCode !== null) throw new Error(`mosquitto exited: ${mosquittoLog}`);
      return connectMqtt(`mqtt://127.0.0.1:${home}`, {}).then(
        (c) => c.end().then(() => true),
        () => false,
      );
    },
    10_000,
    'mosquitto to listen',
  );
}, 30_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  if (mosquitto && mosquitto.exitCode === null) {
    const exited = new Promise((resolve) => mosquitto?.once('exit', resolve));
    mosquitto.kill('SIGTERM');
    const killer = setTimeout(() => mosquitto?.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(killer);
  }
  if (dir) await rm(dir, { recursive: true, force: true });
  await t?.close();
});

describe('a Mosquitto bridge carrying Paywire\u2019s Home Assistant topics (docs/home-assistant.md)', () => {
  it('brings the discovery configs home, retained, under homeassistant/', async () => {
    const topics = CONFIGS.map((c) => `homeassistant/${c.replace('%', m.assetId)}`);
    const configs = async (what: string) => {
      // Home Assistant subscribes exactly these below its discovery prefix.
      const ha = await homeClient();
      await ha.client.subscribeAsync(['homeassistant/+/+/config', 'homeassistant/+/+/+/config'], { qos: 1 });
      return until(
        () => {
          const got = topics.map((topic) => ha.received.find((r) => r.topic === topic));
          return got.every((r) => r !== undefined) ? got : undefined;
        },
        15_000,
        `${what} (mosquitto said: ${mosquittoLog})`,
      );
    };
    await configs('the configs at home');
    // Kept retained at home: a Home Assistant that (re)starts now finds them.
    const found = await configs('the retained configs at home');
    for (const r of found) expect(r?.retain, r?.topic).toBe(true);
    const button = JSON.parse(found[0]?.payload as string);
    expect(button).toMatchObject({ name: 'Test vend', command_topic: m.topic('trigger'), payload_press: 'PRESS' });
    // Paywire's side has them too, under the account's own prefix.
    const account = await connectMqtt(`mqtt://127.0.0.1:${t.info.mqttPort}`, { username: m.userId, password: m.key });
    clients.push(account);
    await account.client.subscribeAsync(`paywire/${m.userId}/homeassistant/#`, { qos: 1 });
    await until(() => account.received.filter((r) => r.topic.endsWith('/config')).length === 3, 5000, 'the configs on Paywire');
  });

  it('carries availability and a sale\u2019s sensor state home', async () => {
    const ha = await homeClient();
    await ha.client.subscribeAsync(['paywire/bridge/state', m.topic('stats')], { qos: 1 });
    await until(() => ha.on('paywire/bridge/state').includes('online'), 10_000, 'the bridge state at home');
    await pay(m, ADMIN_TOKEN, 10);
    await until(() => ha.on(m.topic('stats')).some((s) => (s as { sales?: number }).sales === 1), 10_000, 'the sale at home');
  });

  it('sends a press of the Test vend button at home to Paywire, which runs the machine', async () => {
    const login = await deviceLogin(m);
    const machine = await connectMqtt(`mqtt://127.0.0.1:${t.info.mqttPort}`, { username: login.username, password: login.password });
    clients.push(machine);
    await machine.client.subscribeAsync(m.topic('action/set'), { qos: 1 });
    const ha = await homeClient();
    const watcher = await homeClient();
    await watcher.client.subscribeAsync(m.topic('trigger'), { qos: 1 });
    // Home Assistant's MQTT button publishes payload_press to command_topic.
    await ha.client.publishAsync(m.topic('trigger'), 'PRESS', { qos: 1 });
    await until(() => watcher.on(m.topic('trigger')).includes('PRESS'), 5000, 'the press at home');
    const [set] = (await until(
      () => (machine.on(m.topic('action/set')).length > 0 ? machine.on(m.topic('action/set')) : undefined),
      10_000,
      'the action/set on Paywire',
    )) as {
      trigger_id: string;
      duration_ms: number;
      reason: string;
    }[];
    expect(set).toMatchObject({ duration_ms: 1000, reason: 'mqtt trigger' });
  });
});

/**
 * The embedded broker speaks to Debian's Mosquitto command-line clients (`mosquitto_sub`,
 * `mosquitto_pub` 2.0, MQTT 3.1.1), the tools a machine builder reaches for first: a payment arrives on
 * `mosquitto_sub`, an action report sent with `mosquitto_pub` is stored and marks the payment
 * delivered, anonymous clients are refused, and `paywire/bridge/state` reads `online`.
 * Needs the `mosquitto-clients` package (`.ci/run` installs it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, startBridge, type TestBridge } from '../helpers/bridge.js';
import { allEvents, allPayments, createMachine, deviceLogin, pay, type Machine } from '../helpers/machine.js';
import { run, watch } from '../helpers/run.js';

let t: TestBridge;
let m: Machine;

/** `-h 127.0.0.1 -p <port> -u <user> -P <password> -q 1 -V mqttv311`, as a machine builder would type it. */
const common = (username?: string, password?: string) => [
  '-h',
  '127.0.0.1',
  '-p',
  String(t.info.mqttPort),
  ...(username === undefined ? [] : ['-u', username]),
  ...(password === undefined ? [] : ['-P', password]),
  '-q',
  '1',
  '-V',
  'mqttv311',
];

beforeAll(async () => {
  for (const tool of ['mosquitto_sub', 'mosquitto_pub']) {
    try {
      await run(tool, ['--help'], 5_000);
    } catch (err) {
      throw new Error(
        `${tool} is not installed: install the Debian package mosquitto-clients (apt-get install mosquitto-clients), as .ci/run does. (${(err as Error).message})`,
      );
    }
  }
  t = await startBridge();
  m = await createMachine(t.url, 'Mosquitto');
});
afterAll(async () => {
  await t.close();
});

describe('mosquitto_sub and mosquitto_pub against the embedded broker', () => {
  it('mosquitto_sub -C 1 receives a settled payment', async () => {
    // -d prints the SUBACK (line-buffered through coreutils' stdbuf): pay only once the subscription is in
    // place, so this is the live message, not the replay a later subscription would also get.
    const sub = watch('stdbuf', ['-oL', 'mosquitto_sub', ...common(m.userId, m.key), '-d', '-C', '1', '-W', '10', '-t', m.topic('payment')], 15_000);
    await sub.waitFor('received SUBACK');
    const paymentId = await pay(m, ADMIN_TOKEN);
    const result = await sub.exited;
    expect(result.code, result.stderr).toBe(0);
    const line = result.stdout.split('\n').find((l) => l.startsWith('{'));
    expect(JSON.parse(line ?? 'null')).toEqual({
      payment_id: paymentId,
      asset_id: m.assetId,
      amount_sats: 10,
      rail: 'lightning',
      duration_ms: 1000,
      paid_at: expect.any(String),
    });
  });

  it('mosquitto_sub with a device credential gets a payment settled while it was away, on subscribing', async () => {
    const login = await deviceLogin(m, 'mosquitto device');
    const waiting = (await allPayments(m)).filter((p) => p.delivered_at === null).map((p) => p.payment_id);
    const paymentId = await pay(m, ADMIN_TOKEN);
    const result = await run('mosquitto_sub', [
      ...common(login.username, login.password),
      '-C',
      String(waiting.length + 1),
      '-W',
      '10',
      '-t',
      m.topic('payment'),
    ]);
    expect(result.code, result.stderr).toBe(0);
    const ids = result.stdout
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { payment_id: string }).payment_id);
    expect(ids.sort()).toEqual([...waiting, paymentId].sort());
  });

  it('mosquitto_pub of an action report stores the event and marks the payment delivered', async () => {
    const paymentId = await pay(m, ADMIN_TOKEN);
    const before = (await allPayments(m)).find((p) => p.payment_id === paymentId);
    expect(before?.delivered_at).toBeNull();
    const report = JSON.stringify({ type: 'action', payment_id: paymentId, external_id: `vend-${paymentId}`, data: { slot: 3 } });
    const result = await run('mosquitto_pub', [...common(m.userId, m.key), '-t', m.topic('action'), '-m', report]);
    expect(result.code, result.stderr).toBe(0);
    // mosquitto_pub -q 1 exits after the PUBACK, and the bridge stores the report before sending it.
    const event = (await allEvents(m)).find((e) => e.external_id === `vend-${paymentId}`);
    expect(event).toMatchObject({ type: 'action', source: 'mqtt', data: { slot: 3, payment_id: paymentId } });
    const after = (await allPayments(m)).find((p) => p.payment_id === paymentId);
    expect(after?.delivered_at).toEqual(expect.any(String));
  });

  it('mosquitto_pub without credentials, or with a wrong password, is refused (non-zero exit)', async () => {
    const anonymous = await run('mosquitto_pub', [...common(), '-t', m.topic('action'), '-m', '{"type":"action"}']);
    expect(anonymous.code).not.toBe(0);
    expect(anonymous.stderr).toMatch(/not authori[sz]ed/i);
    const wrong = await run('mosquitto_pub', [...common(m.userId, `${m.key}0`), '-t', m.topic('action'), '-m', '{"type":"action"}']);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/bad user name or password/i);
    expect((await allEvents(m)).filter((e) => e.external_id === null && e.type === 'action')).toEqual([]);
  });

  it('mosquitto_sub -t paywire/bridge/state -C 1 prints online', async () => {
    const result = await run('mosquitto_sub', [...common(m.userId, m.key), '-t', 'paywire/bridge/state', '-C', '1', '-W', '10']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe('online\n');
  });

  it('mosquitto_pub -V mqttv5 is refused: the embedded broker speaks MQTT 3.1.1 only', async () => {
    const args = common(m.userId, m.key);
    args[args.length - 1] = 'mqttv5';
    const result = await run('mosquitto_pub', [...args, '-t', m.topic('status'), '-m', 'online']);
    expect(result.code).not.toBe(0);
  });
});

/**
 * End to end: a real bridge, the daemon as a child process (`device/cli.ts`, a simulated relay: the
 * console driver logs each pin write), 100 payments settled over LNURL and the dev backend, 45 of
 * them while the daemon is stopped (SIGTERM) in two gaps. Each payment fires the relay exactly once,
 * and each vend comes back as an event carrying its payment_id; every payment ends acknowledged.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, startBridge, type TestBridge } from '../helpers/bridge.js';
import { allEvents, allPayments, createMachine, deviceLogin, payMany } from '../helpers/machine.js';
import { rawConfig, spawnDaemon, stateDir, waitFor, type DaemonProcess } from './helpers.js';

let bridge: TestBridge | undefined;
let current: DaemonProcess | undefined;
afterEach(async () => {
  current?.child.kill('SIGKILL');
  await bridge?.close();
});

describe('end to end: bridge → MQTT → daemon child process → relay → report', () => {
  it('100 payments (45 while the daemon is stopped) each fire exactly once and each vend is reported', { timeout: 120_000 }, async () => {
    bridge = await startBridge();
    const m = await createMachine(bridge.url, 'Vend', { duration_ms: 20 });
    const login = await deviceLogin(m);
    const dir = await stateDir();
    const raw = rawConfig(m, login, bridge.info.mqttPort!, join(dir, 'state'), { log_level: 'info' });
    raw['assets'][0].displays = [];
    const configPath = join(dir, 'device.json');
    await writeFile(configPath, JSON.stringify(raw));

    const runs: DaemonProcess[] = [];
    const relayOns = () => runs.flatMap((r) => r.lines.filter((l) => l['msg'] === 'relay on'));
    const vends = () => runs.flatMap((r) => r.lines.filter((l) => l['msg'] === 'vend'));
    const stop = async () => {
      current!.child.kill('SIGTERM');
      expect(await current!.exited).toBe(0);
    };
    const t0 = Date.now();
    const mark = (what: string) => process.env['E2E_TIMING'] && console.log(`${Date.now() - t0} ms: ${what}`);
    const start = async () => {
      current = await spawnDaemon(configPath);
      runs.push(current);
    };

    const ids: string[] = [];
    await start();
    ids.push(...(await payMany(m, ADMIN_TOKEN, 40, 10)));
    mark('40 paid');
    await waitFor('40 vends', () => vends().length >= 40, 30_000);
    mark('40 vends');
    await stop();
    ids.push(...(await payMany(m, ADMIN_TOKEN, 30, 10))); // while stopped
    mark('30 paid while stopped');
    await start();
    ids.push(...(await payMany(m, ADMIN_TOKEN, 15, 5))); // while it catches up
    await waitFor('85 vends', () => vends().length >= 85, 30_000);
    mark('85 vends');
    await stop();
    ids.push(...(await payMany(m, ADMIN_TOKEN, 15, 5))); // stopped again
    await start();
    await waitFor('100 vends', () => vends().length >= 100, 30_000);
    mark('100 vends');
    await waitFor('every payment acknowledged', async () => (await allPayments(m)).every((p) => p.delivered_at !== null), 30_000);
    await new Promise((r) => setTimeout(r, 500)); // anything late would show now
    await stop();

    expect(new Set(ids).size).toBe(100);
    const fired = vends().map((v) => String(v['id']).slice(2));
    expect(fired).toHaveLength(100);
    expect(new Set(fired)).toEqual(new Set(ids));
    expect(relayOns()).toHaveLength(100);
    const events = (await allEvents(m)).filter((e: any) => e.type === 'action' && e.data?.payment_id);
    expect(events).toHaveLength(100);
    expect(new Set(events.map((e: any) => e.data.payment_id))).toEqual(new Set(ids));
    expect((await allEvents(m)).filter((e: any) => e.type === 'error')).toEqual([]);
  });
});

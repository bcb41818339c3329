/**
 * The daemon's config (every problem listed at once, the CLI exits 2) and its payment ledger (kept
 * across restarts, bounded, compacted, a torn last line tolerated).
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../device/config.js';
import { Ledger } from '../../device/ledger.js';
import { stateDir, QR } from './helpers.js';

const good = {
  account_id: 'w8dxrelp66cdxb9',
  mqtt: { url: 'mqtt://localhost:1883' },
  assets: [{ asset_id: 'a1', qr: QR, relay: { type: 'console' }, login: { username: 'dev_x', password: 'dpw_y' } }],
};

describe('device config', () => {
  it('fills defaults', () => {
    const c = parseConfig(good);
    expect(c).toMatchObject({
      state_dir: './device-state',
      remember_payments: 2_000,
      max_queue: 100,
      mqtt: { keepalive_s: 30, client_id_prefix: 'paywire-device' },
    });
    expect(c.assets[0]).toMatchObject({ displays: [], max_duration_ms: 600_000 });
  });

  it('lists every problem at once', () => {
    const bad = {
      account_id: 'has space',
      mqtt: { url: 'http://x', username: 'u', reconnect_min_ms: 5_000, reconnect_max_ms: 1_000 },
      assets: [
        { asset_id: 'a1', qr: '', relay: { type: 'firmata', port: '/dev/ttyACM0' }, displays: [{ type: 'serial', port: '/dev/ttyACM0' }] },
        { asset_id: 'a1', qr: QR, relay: { type: 'gpio', line: -1 }, displays: [{ type: 'hologram' }] },
      ],
      license: { key: 'nope', public_key: 'x' },
      extra: true,
    };
    let err: ConfigError | undefined;
    try {
      parseConfig(bad);
    } catch (e) {
      err = e as ConfigError;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const paths = err!.problems.map((p) => p.split(':')[0]);
    expect(paths).toEqual(
      expect.arrayContaining([
        'account_id',
        'mqtt.url',
        'assets.0.qr',
        'assets.0.relay.pin',
        'assets.1.relay.line',
        'assets.1.displays.0.type',
        'license.key',
        '(root)',
      ]),
    );
    expect(err!.problems.length).toBeGreaterThanOrEqual(8);
  });

  it('cross-field problems: duplicate assets, no login, one port for two protocols, backoff bounds', () => {
    const bad = {
      ...good,
      mqtt: { url: 'mqtt://localhost:1883', reconnect_min_ms: 5_000, reconnect_max_ms: 1_000 },
      assets: [
        { asset_id: 'a1', qr: QR, relay: { type: 'firmata', port: '/dev/ttyACM0', pin: 7 } },
        { asset_id: 'a1', qr: QR, relay: { type: 'serial', port: '/dev/ttyACM0' } },
      ],
    };
    expect(() => parseConfig(bad)).toThrow(ConfigError);
    try {
      parseConfig(bad);
    } catch (e) {
      const text = (e as ConfigError).problems.join('\n');
      expect(text).toContain('assets.1.asset_id: asset a1 is listed twice');
      expect(text).toContain('assets.0.login: no login');
      expect(text).toContain('assets.1.relay.port: /dev/ttyACM0 is already used by a firmata output');
      expect(text).toContain('mqtt.reconnect_max_ms: must be at least reconnect_min_ms');
    }
  });
});

describe('payment ledger', () => {
  it('remembers across a reopen, keeps the newest N, drops reported ones first', async () => {
    const dir = await stateDir();
    const a = Ledger.open(dir, 10);
    for (let i = 0; i < 25; i++) a.set({ asset: 'x', id: `p:${i}`, state: 'running' }, true);
    for (let i = 0; i < 25; i++) a.set({ asset: 'x', id: `p:${i}`, state: i === 3 ? 'done' : 'reported' }, false);
    expect(a.size).toBe(10);
    a.close();
    const b = Ledger.open(dir, 10);
    expect(b.size).toBe(10);
    expect(b.get('x', 'p:24')?.state).toBe('reported');
    expect(b.get('x', 'p:0')).toBeUndefined();
    b.close();
  });

  it('compacts the file as it grows, and skips a line torn by a crash', async () => {
    const dir = await stateDir();
    const l = Ledger.open(dir, 10);
    for (let i = 0; i < 200; i++) l.set({ asset: 'x', id: `p:${i}`, state: 'reported' }, false);
    l.close();
    const lines = readFileSync(join(dir, 'ledger.jsonl'), 'utf8').trim().split('\n');
    expect(lines.length).toBeLessThanOrEqual(10 * 3 + 100);
    appendFileSync(join(dir, 'ledger.jsonl'), '{"asset":"x","id":"p:torn","sta');
    const again = Ledger.open(dir, 10);
    expect(again.get('x', 'p:199')?.state).toBe('reported');
    expect(again.get('x', 'p:torn')).toBeUndefined();
    expect(readFileSync(join(dir, 'ledger.jsonl'), 'utf8')).not.toContain('torn');
    again.close();
  });

  it('lists what a restart must finish: queued, running and unreported work', async () => {
    const dir = await stateDir();
    const l = Ledger.open(dir, 100);
    l.set({ asset: 'x', id: 'p:q', state: 'queued', data: { id: 'p:q', durationMs: 5 } }, true);
    l.set({ asset: 'x', id: 'p:r', state: 'running', data: { id: 'p:r', durationMs: 5 } }, true);
    l.set({ asset: 'x', id: 'p:d', state: 'done', report: { type: 'action', payment_id: 'd' } }, true);
    l.set({ asset: 'x', id: 'p:ok', state: 'reported' }, true);
    l.close();
    expect(
      Ledger.open(dir, 100)
        .unfinished()
        .map((e) => `${e.id}=${e.state}`),
    ).toEqual(['p:q=queued', 'p:r=running', 'p:d=done']);
  });
});

/**
 * What a machine reports over MQTT reaches dashboards and webhooks as events, so an `action`'s
 * `external_id` and `data` follow the same text rules as the HTTP API's events: a report carrying
 * bidirectional overrides, control characters or lone surrogates is not stored as sent but becomes
 * an `error` event whose excerpt of the payload has those characters escaped.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridge, type TestBridge } from '../helpers/bridge.js';
import { allEvents, createMachine } from '../helpers/machine.js';
import { connectMqtt, type TestClient } from '../helpers/mqtt.js';
import { publishOutcome } from '../helpers/mqtt-probe.js';
import { until } from '../helpers/receiver.js';

let t: TestBridge;
const open: TestClient[] = [];
beforeAll(async () => {
  t = await startBridge();
});
afterAll(async () => {
  await Promise.all(open.map((c) => c.end().catch(() => undefined)));
  await t.close();
});

/** Nothing a display must not get: no C0/C1 controls (but tab, LF, CR), bidi controls or lone surrogates. */
const UNSHOWABLE =
  /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

describe('MQTT action reports', () => {
  it('refuse hostile text in external_id and data, keep an escaped excerpt, and store friendly text as sent', async () => {
    const m = await createMachine(t.url, 'Reporter');
    const c = await connectMqtt(`mqtt://127.0.0.1:${t.info.mqttPort}`, { username: m.userId, password: m.key });
    open.push(c);
    // The third flag: the payload itself carries the character (JSON.stringify writes a lone surrogate as `\ud800` text).
    const hostile: [string, unknown, RegExp, boolean][] = [
      ['override in external_id', { type: 'action', external_id: 'vend-\u202Egnp.exe' }, /external_id: must not contain bidirectional/, true],
      ['C1 control in data', { type: 'action', data: { note: 'a\u009B31mb' } }, /data\.note: must not contain control characters/, true],
      ['lone surrogate in a data key', { type: 'custom', data: { ['k\uD800']: 1 } }, /data: keys must not contain a lone surrogate/, false],
    ];
    for (const [label, message] of hostile) {
      expect(await publishOutcome(c.client, m.topic('action'), JSON.stringify(message)), label).toBe('acked');
    }
    const friendly = { type: 'action', external_id: 'قهوة-1', data: { note: 'Café ☕\nsecond line' } };
    expect(await publishOutcome(c.client, m.topic('action'), JSON.stringify(friendly))).toBe('acked');

    const events = await until(
      async () => {
        const all = await allEvents(m);
        return all.length >= hostile.length + 1 ? all : undefined;
      },
      3000,
      'events',
    );
    const errors = events.filter((e) => e.type === 'error').reverse();
    expect(errors).toHaveLength(hostile.length);
    hostile.forEach(([label, , problem, raw], i) => {
      const data = errors[i]?.data as { problem: string; payload: string };
      expect(data.problem, label).toMatch(problem);
      expect(data.payload, label).not.toMatch(UNSHOWABLE);
      if (raw) expect(data.payload, label).toMatch(/\\u\{[0-9A-F]{4}\}/);
    });
    expect(JSON.stringify(events)).not.toMatch(UNSHOWABLE);
    const stored = events.find((e) => e.external_id === 'قهوة-1');
    expect(stored).toMatchObject({ type: 'action', data: { note: 'Café ☕\nsecond line' } });
  });
});

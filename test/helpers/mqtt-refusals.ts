/** What the bridge's metrics counted as refused on the MQTT path (`paywire_refusals_total{component="mqtt",reason}`). */
import { ADMIN_TOKEN, type TestBridge } from './bridge.js';

/** The count of one refusal reason, read from the bridge's registry. */
export async function mqttRefusals(t: TestBridge, reason: string): Promise<number> {
  const metric = await t.bridge.metrics.refusals.get();
  return metric.values.find((v) => v.labels['component'] === 'mqtt' && v.labels['reason'] === reason)?.value ?? 0;
}

/** The same count as `GET /metrics` (admin token) shows it, 0 when the line is absent. */
export async function mqttRefusalsServed(t: TestBridge, reason: string): Promise<number> {
  const res = await t.request('GET', '/metrics', { token: ADMIN_TOKEN });
  if (res.status !== 200) throw new Error(`GET /metrics: ${res.status}`);
  const line = res.text.split('\n').find((l) => l.startsWith(`paywire_refusals_total{component="mqtt",reason="${reason}"}`));
  return line ? Number(line.split(' ').pop()) : 0;
}

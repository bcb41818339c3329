/**
 * The guide section on the machine's side: the MQTT topic contract of `broker/topics.ts` (who
 * publishes what, QoS, retain, payloads), logging in, how a payment is acknowledged and replayed,
 * the last will, the ACL of `broker/acl.ts`, and a machine's loop as runnable JavaScript. The topics
 * are not HTTP routes, so they are described here rather than in the endpoint catalogue. The prose is
 * `prose/mqtt.md`; the topic table, the examples and the loop are made here, typed by the contract.
 */
import { WEBSOCKET_PATH } from '../../broker/broker.js';
import {
  BRIDGE_STATE_TOPIC,
  CLIENT_PUBLISHES,
  MAX_DEVICE_PAYLOAD_BYTES,
  TOPIC_ROOT,
  TOPIC_SPECS,
  type AssetTopic,
  type TopicPayloads,
} from '../../broker/topics.js';
import type { Section } from './guide.js';
import { proseSection } from './prose.js';
import { EXAMPLE } from './records.js';

const prefix = `${TOPIC_ROOT}/${EXAMPLE.userId}/${EXAMPLE.assetId}/`;

/** One example payload per topic, typed by the contract. */
export const MQTT_EXAMPLES = {
  payment: { payment_id: EXAMPLE.paymentId, asset_id: EXAMPLE.assetId, amount_sats: 1500, rail: 'lightning', duration_ms: 30000, paid_at: EXAMPLE.settledAt },
  action: { type: 'action', external_id: `vend-${EXAMPLE.paymentId}`, payment_id: EXAMPLE.paymentId, data: { cups: 1 } },
  'action/set': { trigger_id: EXAMPLE.triggerId, duration_ms: 5000, reason: 'test vend' },
  'license/request': { request_id: 'boot-0001', key: 'LIC1-AAAA-BBBB', fingerprint: 'esp32-a4cf12f3b8e0' },
  license: { request_id: 'boot-0001', ok: false, reason: 'revoked' },
  status: 'online',
  trigger: 'PRESS',
  stats: { sales: 42, revenue_sats: 63000, last_paid_at: EXAMPLE.settledAt },
} satisfies { [T in AssetTopic]?: TopicPayloads[T] };

/** Who sends each topic and what it carries; QoS and retain come from the contract itself. */
const TOPIC_ROWS: Record<AssetTopic, { from: string; payload: string }> = {
  payment: { from: 'bridge -> machine', payload: '{payment_id, asset_id, amount_sats, rail, duration_ms, paid_at}: a settled payment; run for duration_ms' },
  action: { from: 'machine -> bridge', payload: '{type: action, error or custom, external_id?, payment_id?, data?}: stored as an event; with payment_id it acknowledges that payment' },
  'action/set': { from: 'bridge -> machine', payload: '{trigger_id, duration_ms, reason}: run now, without a payment (the manual trigger)' },
  'license/request': { from: 'machine -> bridge', payload: '{request_id, key, fingerprint?}: check a license key' },
  license: {
    from: 'bridge -> machine',
    payload:
      '{request_id, ok, ...}: the license server\u2019s POST /v1/validate answer for that key and fingerprint; sent again when the license is revoked, suspended, reinstated or expires',
  },
  status: { from: 'machine -> bridge', payload: 'online or offline, plain text; also the last will' },
  trigger: { from: 'any client -> bridge', payload: 'anything: asks for a test vend, sent as action/set with the asset\u2019s duration_ms' },
  stats: { from: 'bridge -> clients', payload: '{sales, revenue_sats, last_paid_at}: the asset\u2019s settled payments so far, updated on each one (for dashboards and Home Assistant)' },
};

function topicTable(): { columns: { title: string; width: number; mono?: boolean }[]; rows: string[][] } {
  const rows = (Object.keys(TOPIC_ROWS) as AssetTopic[]).map((name) => {
    const spec = TOPIC_SPECS[name];
    return [name, TOPIC_ROWS[name].from, String(spec.qos), spec.retain ? 'yes' : 'no', TOPIC_ROWS[name].payload];
  });
  rows.push([BRIDGE_STATE_TOPIC, 'bridge -> everyone', '1', 'yes', 'online while the bridge runs, offline once it stops']);
  return {
    columns: [
      { title: 'Topic', width: 116, mono: true },
      { title: 'From -> to', width: 82 },
      { title: 'QoS', width: 28 },
      { title: 'Retained', width: 46 },
      { title: 'Payload', width: 0 },
    ],
    rows,
  };
}

function examples(): string {
  return Object.entries(MQTT_EXAMPLES)
    .map(([name, payload]) => `${prefix}${name}\n${typeof payload === 'string' ? payload : JSON.stringify(payload)}`)
    .join('\n\n');
}

/** A machine's loop, runnable as printed with mqtt.js; the tests run it against a live bridge. */
export const MACHINE_SNIPPET = `import mqtt from 'mqtt';

// url, username, password and topic_prefix come from POST /api/v1/assets/{id}/device-credentials.
// relay(ms) runs the machine for ms milliseconds and resolves when it is done.
function runMachine({ url, username, password, prefix, relay }) {
  const seen = new Set(); // payment_ids already run
  const client = mqtt.connect(url, {
    username, password,
    will: { topic: prefix + 'status', payload: 'offline', qos: 1, retain: true },
  });
  client.on('connect', () => {
    client.publish(prefix + 'status', 'online', { qos: 1, retain: true });
    client.subscribe([prefix + 'payment', prefix + 'action/set'], { qos: 1 });
  });
  client.on('message', async (topic, payload) => {
    let msg;
    try { msg = JSON.parse(payload.toString()); } catch { return; }
    if (topic === prefix + 'action/set') return relay(msg.duration_ms); // a test vend
    if (seen.has(msg.payment_id)) return; // a repeat: never run a payment twice
    seen.add(msg.payment_id);
    if (seen.size > 1000) seen.delete(seen.values().next().value);
    await relay(msg.duration_ms);
    // Reporting the payment acknowledges it: the bridge stops sending it again.
    client.publish(prefix + 'action', JSON.stringify({
      type: 'action', external_id: 'vend-' + msg.payment_id, payment_id: msg.payment_id,
      data: { duration_ms: msg.duration_ms },
    }), { qos: 1 });
  });
  return client;
}`;

/** The section in `prose/mqtt.md`, with the contract's topics, limits and examples. */
export function mqttSection(): Section {
  return proseSection(
    'mqtt',
    {
      websocketPath: WEBSOCKET_PATH,
      bridgeStateTopic: BRIDGE_STATE_TOPIC,
      clientPublishes: CLIENT_PUBLISHES.map((t) => `\`${t}\``).join(', '),
      maxPayloadBytes: MAX_DEVICE_PAYLOAD_BYTES.toLocaleString('en-US'),
      topicExamples: examples(),
      machineSnippet: MACHINE_SNIPPET,
    },
    { 'topic-table': { kind: 'table', ...topicTable() } },
  );
}

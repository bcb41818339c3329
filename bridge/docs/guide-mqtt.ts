/**
 * The guide section on the machine's side: the MQTT topic contract of `broker/topics.ts` (who
 * publishes what, QoS, retain, payloads), logging in, how a payment is acknowledged and replayed,
 * the last will, the ACL of `broker/acl.ts`, and a machine's loop as runnable JavaScript. The topics
 * are not HTTP routes, so they are described here rather than in the endpoint catalogue.
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
import { EXAMPLE } from './records.js';

const prefix = `${TOPIC_ROOT}/${EXAMPLE.userId}/${EXAMPLE.assetId}/`;

/** One example payload per topic, typed by the contract. */
export const MQTT_EXAMPLES = {
  payment: { payment_id: EXAMPLE.paymentId, asset_id: EXAMPLE.assetId, amount_sats: 1500, rail: 'lightning', duration_ms: 30000, paid_at: EXAMPLE.settledAt },
  action: { type: 'action', external_id: `vend-${EXAMPLE.paymentId}`, payment_id: EXAMPLE.paymentId, data: { cups: 1 } },
  'action/set': { trigger_id: EXAMPLE.triggerId, duration_ms: 5000, reason: 'test vend' },
  'license/request': { request_id: 'boot-0001', key: 'LIC1-AAAA-BBBB', fingerprint: 'esp32-a4cf12f3b8e0' },
  license: { request_id: 'boot-0001', ok: false, reason: 'not_available', message: 'This bridge has no license server yet' },
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
  license: { from: 'bridge -> machine', payload: '{request_id, ok, ...}: the answer (today always ok false, reason not_available: no license server yet)' },
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

export function mqttSection(): Section {
  const publishes = CLIENT_PUBLISHES.map((t) => `\`${t}\``).join(', ');
  return {
    id: 'mqtt',
    title: 'Machines over MQTT',
    blocks: [
      {
        kind: 'text',
        text: `A machine learns that it was paid over MQTT, from the broker built into the bridge: MQTT 3.1.1 on port MQTT_PORT (default 1883), and over WebSocket at \`${WEBSOCKET_PATH}\` on the HTTP port (\`ws://<host>:<PORT>${WEBSOCKET_PATH}\`, \`wss://\` behind TLS) for browsers and networks that pass only HTTP. It needs no HTTP at all: it logs in, listens on its asset\u2019s topics and reports back on them. A version 5 CONNECT is refused: use protocol level 4 (3.1.1).`,
      },
      { kind: 'text', text: 'Logging in. Anonymous clients and wrong passwords are refused at CONNECT (return codes 5 and 4). There are two kinds of login:' },
      {
        kind: 'list',
        items: [
          'The account: username = its `user_id`, password = one of its API keys. It reaches every asset of the account, `paywire/<user_id>/\u2026`. A read-only key may subscribe but never publish. Rotating or revoking the key disconnects the clients logged in with it. For dashboards, scripts and a gateway that runs several machines.',
          'A device credential: `POST /api/v1/assets/{id}/device-credentials` answers a username `dev_<credential_id>` and a password (`dpw_\u2026`) shown once. It reaches only that asset\u2019s topics, `paywire/<user_id>/<asset_id>/\u2026`, and while it is connected the asset counts as online. Revoking it (`DELETE \u2026/device-credentials/{credential_id}`) disconnects it at once. For the machine itself: a stolen device gives away one asset, not the account.',
        ],
      },
      { kind: 'request', title: 'Issue a device credential', endpoint: 'createDeviceCredential' },
      {
        kind: 'text',
        text: `Topics. Each asset has its own subtree \`paywire/<user_id>/<asset_id>/\`; the table names the topic below it. Every message is QoS 1. Payloads are JSON, except \`status\`, \`trigger\` and \`${BRIDGE_STATE_TOPIC}\`.`,
      },
      { kind: 'table', ...topicTable() },
      { kind: 'text', text: 'One message on each topic, as sent (topic, then payload):' },
      { kind: 'code', text: examples() },
      {
        kind: 'text',
        text: 'With HOMEASSISTANT_DISCOVERY=true the bridge also publishes retained Home Assistant discovery configs for each asset under `paywire/<user_id>/homeassistant/\u2026` (a Test vend button and Sales and Revenue sensors): set that as the discovery prefix in Home Assistant\u2019s MQTT options.',
      },
      {
        kind: 'text',
        text: 'Acknowledging a payment. A settled payment is sent at least once: it stays in the bridge\u2019s outbox until a machine acknowledges it, and until then its `delivered_at` (`GET /api/v1/assets/{id}/payments`) is null. A machine acknowledges a payment by reporting it: any message on `action` that carries its `payment_id`. The bridge stores the report before the broker acknowledges the PUBLISH (PUBACK), so once a QoS 1 report is acknowledged it is kept; a report the bridge cannot store is refused, which closes the connection so the client sends it again. On a persistent session (clean session off, a fixed client id) the PUBACK of the payment message counts as well. Give each report an `external_id` such as `vend-<payment_id>`: a repeat is stored once.',
      },
      {
        kind: 'text',
        text: 'Replay. Whenever a client subscribes to a filter that covers an asset\u2019s `payment` topic, the bridge publishes again every payment of that asset settled in the last PAYMENT_REPLAY_HOURS hours (default 24) that no machine has acknowledged, up to 1,000. That is how a payment made while the machine was away, or while the bridge restarted, reaches it. The replay goes only to the client that subscribed, if it may acknowledge (read-only keys get none), and counts as one message against its login\u2019s rate limit. Delivery is at least once, so a machine can see a payment more than once: drop repeats by `payment_id`. A payment is published as soon as its settlement is applied, a disk sync before the settle is answered; if the bridge is killed inside that window, the settlement is found again at the backend when the bridge starts and is published again under the same `payment_id`. Older unacknowledged payments are not sent again; they stay in the payments list. Any subscriber of the account acknowledges by PUBACK on a persistent session, so let dashboards and watchers use clean sessions.',
      },
      {
        kind: 'text',
        text: 'Online and the last will. Connect with a last will on the asset\u2019s `status` topic (payload `offline`, QoS 1, retained) and publish `online` there, retained, after every connect. When the connection drops without a DISCONNECT the broker publishes the will and the asset\u2019s `online` (`GET /api/v1/assets/{id}`) turns false; an asset with refuse_when_offline then answers payers 503 instead of an invoice. A device credential\u2019s connection counts too. The broker keeps retained messages in memory only: after a bridge restart no asset is online until its machine reconnects and says so.',
      },
      {
        kind: 'text',
        text: `The bridge\u2019s own state is \`${BRIDGE_STATE_TOPIC}\`: \`online\`, retained, while it runs, and \`offline\` once it stops cleanly. Any logged-in client may subscribe to it.`,
      },
      { kind: 'text', text: 'Access rules. Everything is refused unless a rule allows it:' },
      {
        kind: 'list',
        items: [
          'An account\u2019s logins subscribe and publish only below `paywire/<user_id>/`, a device credential only below `paywire/<user_id>/<asset_id>/`. Wildcards may appear only below that prefix: `paywire/<user_id>/#` is fine for an account, `paywire/+/#` and `#` are refused.',
          `Clients publish only ${publishes}, never with wildcards (device credentials not \`trigger\`: a machine reports, it does not ask for free vends): \`payment\`, \`action/set\`, \`license\` and \`stats\` come from the bridge alone. Read-only keys never publish.`,
          `Any logged-in client may subscribe to \`${BRIDGE_STATE_TOPIC}\`; \`$SYS\` topics are closed.`,
          'A refused subscription gets SUBACK return code 128 and the connection stays open; a refused publish closes the connection (MQTT 3.1.1 has no negative PUBACK).',
          `A message the contract does not allow (not JSON, an unknown field, over ${MAX_DEVICE_PAYLOAD_BYTES.toLocaleString('en-US')} bytes, a status other than online or offline) is taken and stored as an \`error\` event of the asset (source mqtt, with the topic, the problem and the start of the payload), at most 10 per asset a minute. Each API key or device credential may send RATE_LIMIT_PER_MINUTE messages a minute (0 = unlimited; reports of undelivered payments are not counted); a message over that is refused, which closes the connection, so nothing acknowledged is lost. Every message counts, status messages and wills too; a last will on \`status\` over the limit is still taken (it cannot be sent again) and changes the online state in memory only. Only \`status\` may be retained, only for a live asset of the account and up to MQTT_RETAINED_MAX_BYTES (default 1,024); any other retained message is refused. A client id belongs to its login: another login using the same id gets a session of its own.`,
        ],
      },
      { kind: 'text', text: 'A machine, step by step (an ESP32 with a relay does exactly this):' },
      {
        kind: 'steps',
        items: [
          'Connect with its device credential and a client id of its own (its MAC address, say), with the last will `offline` on `\u2026/status`, QoS 1, retained.',
          'After every connect: publish `online` on `\u2026/status`, QoS 1, retained; subscribe to `\u2026/payment` and `\u2026/action/set` at QoS 1.',
          'On a payment: if its `payment_id` is one it already ran, ignore it; otherwise remember it and run the relay for `duration_ms`.',
          'Report the vend on `\u2026/action` at QoS 1: `{"type": "action", "external_id": "vend-<payment_id>", "payment_id": "<payment_id>"}`. The payment leaves the outbox.',
          'On `action/set`: run the relay for `duration_ms`. There is no payment to acknowledge.',
          'A payment run but not yet reported when the machine reboots comes again: keep the recent payment_ids in flash to never run one twice, or report before running if a lost run is better than a double one.',
        ],
      },
      { kind: 'text', text: 'The same loop in JavaScript with mqtt.js, for a Raspberry Pi or a PC next to the machine:' },
      { kind: 'code', text: MACHINE_SNIPPET },
      {
        kind: 'text',
        text: 'A full API key can run the machine without a payment (a test vend) over HTTP; any client allowed to publish can ask the same by publishing anything on `\u2026/trigger`:',
      },
      { kind: 'request', title: 'Trigger a test vend', endpoint: 'triggerAsset' },
    ],
  };
}

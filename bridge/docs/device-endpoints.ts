/**
 * Catalogue entries of the machines' side of an asset (`devices/routes.ts`): device credentials, the
 * MQTT logins confined to one asset, and the manual trigger. The MQTT topics themselves are not HTTP
 * routes: the guide describes them (`guide-mqtt.ts`).
 */
import { assetTopic, TOPIC_ROOT } from '../../broker/topics.js';
import { WEBSOCKET_PATH } from '../../broker/broker.js';
import { DEVICE_USERNAME_PREFIX } from '../devices/credentials.js';
import { credentialBody, triggerBody } from '../devices/routes.js';
import { assetParam, input, ok, type Endpoint } from './catalogue.js';
import { EXAMPLE } from './records.js';

const topic = (name: Parameters<typeof assetTopic>[2]) => assetTopic(EXAMPLE.userId, EXAMPLE.assetId, name);
const host = new URL(EXAMPLE.publicUrl).hostname;

export const exCredential = {
  credential_id: EXAMPLE.credentialId,
  asset_id: EXAMPLE.assetId,
  username: `${DEVICE_USERNAME_PREFIX}${EXAMPLE.credentialId}`,
  label: 'esp32 #1',
  created: EXAMPLE.time,
};

export const exCredentialIssued = {
  ...exCredential,
  password: EXAMPLE.devicePassword,
  warning: 'Store this password now: it is shown once and cannot be recovered.',
  mqtt: {
    url: `mqtt://${host}:1883`,
    websocket_url: `${EXAMPLE.publicUrl.replace(/^http/, 'ws')}${WEBSOCKET_PATH}`,
    topic_prefix: `${TOPIC_ROOT}/${EXAMPLE.userId}/${EXAMPLE.assetId}/`,
    subscribe: [topic('payment'), topic('action/set'), topic('license')],
    publish: [topic('action'), topic('status'), topic('license/request')],
  },
  bitcoinswitch: {
    device_string: `${EXAMPLE.publicUrl.replace(/^http/, 'ws')}/api/v1/ws/${EXAMPLE.credentialId}5f0c2a9e41d7b3c86e1f0a4d92b7c3e1?pin=4`,
  },
};

/** Every Devices endpoint of the family, in the order the PDF lists them. */
export const DEVICE_ENDPOINTS: Endpoint[] = [
  {
    operationId: 'createDeviceCredential', method: 'post', path: '/api/v1/assets/{id}/device-credentials', tag: 'Devices', auth: 'bearer', writes: true,
    summary: 'Issue an MQTT login for one asset',
    description:
      'Makes a device credential: an MQTT login for a machine that should not hold the account\u2019s API key. The username is `dev_<credential_id>`, the password `dpw_` and 48 hex digits, shown once and stored only as its sha256. The login may use only the asset\u2019s own topics (`paywire/<user_id>/<asset_id>/\u2026`) and read `paywire/bridge/state`; while it is connected the asset counts as online. `mqtt` says where to connect and which topics to use; `bitcoinswitch.device_string` is what LNbits bitcoinSwitch firmware needs to run on the asset\u2019s payments instead. An asset may have several, one per device, up to MAX_DEVICE_CREDENTIALS_PER_ASSET live ones (10 by default; past that 409 credential_limit_reached until one is revoked). The body is optional.',
    params: assetParam,
    body: input('DeviceCredentialRequest', credentialBody, {
      label: 'Your name for the device, 1-64 characters without control characters, bidirectional overrides or lone surrogates (default null).',
    }, { label: 'esp32 #1' }),
    response: ok(201, 'DeviceCredentialIssued', 'The credential and its password', exCredentialIssued),
    errors: ['asset_not_found', 'asset_not_owned', 'credential_limit_reached'],
  },
  {
    operationId: 'listDeviceCredentials', method: 'get', path: '/api/v1/assets/{id}/device-credentials', tag: 'Devices', auth: 'bearer', writes: false,
    summary: 'List an asset\u2019s device credentials',
    description: 'The asset\u2019s live device credentials, oldest first. Passwords are never shown again; revoked credentials are left out.',
    params: assetParam,
    response: ok(200, 'DeviceCredentialList', 'The credentials', { credentials: [exCredential] }),
    errors: ['asset_not_found', 'asset_not_owned'],
  },
  {
    operationId: 'revokeDeviceCredential', method: 'delete', path: '/api/v1/assets/{id}/device-credentials/{credential_id}', tag: 'Devices', auth: 'bearer', writes: true,
    summary: 'Revoke a device credential',
    description:
      'Revokes a device credential at once: a client connected with it is disconnected, and its next login is refused. Answers the revoked credential. An unknown or already revoked credential, or one of another asset, answers 404 credential_not_found.',
    params: { ...assetParam, credential_id: { description: 'The credential id (the username without dev_)', example: EXAMPLE.credentialId } },
    response: ok(200, 'DeviceCredentialRevoked', 'The revoked credential', { ...exCredential, revoked_at: EXAMPLE.settledAt }),
    errors: ['asset_not_found', 'asset_not_owned', 'credential_not_found'],
  },
  {
    operationId: 'triggerAsset', method: 'post', path: '/api/v1/assets/{id}/trigger', tag: 'Devices', auth: 'bearer', writes: true,
    summary: 'Run the machine now, without a payment',
    description:
      'A test vend: publishes `{trigger_id, duration_ms, reason}` on the asset\u2019s `action/set` topic (QoS 1, never retained) and answers 202 once the broker has taken it. That says the command was sent, not that the machine ran: device_online tells whether it was online, and a machine that subscribes later does not get the command (a persistent session that was subscribed gets it when it reconnects). Both fields are optional. A client can ask the same over MQTT by publishing anything on the asset\u2019s `trigger` topic. 503 mqtt_disabled when the bridge runs without its MQTT broker.',
    params: assetParam,
    body: input('TriggerRequest', triggerBody, {
      duration_ms: 'How long the machine runs, 0 to 86,400,000 ms (default the asset\u2019s duration_ms).',
      reason: 'Why, passed on to the machine; 1-64 characters (default \u201ctrigger\u201d).',
    }, { duration_ms: 5000, reason: 'test vend' }),
    response: ok(202, 'TriggerAccepted', 'The command, as published', {
      trigger_id: EXAMPLE.triggerId, duration_ms: 5000, reason: 'test vend', asset_id: EXAMPLE.assetId, topic: topic('action/set'), device_online: true,
    }),
    errors: ['asset_not_found', 'asset_not_owned', 'mqtt_disabled'],
  },
];

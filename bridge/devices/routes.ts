/**
 * Routes for the machines' side of an asset: device credentials (MQTT logins for one asset, the
 * password shown once) and the manual trigger ("test vend": run the machine without a payment).
 */
import type { Router } from '@koa/router';
import { z } from 'zod';
import { AppError } from '../errors.js';
import { requestLogger } from '../http/request-log.js';
import { displayText } from '../http/text.js';
import { assetTopic, BRIDGE_STATE_TOPIC, TOPIC_ROOT } from '../../broker/topics.js';
import { WEBSOCKET_PATH } from '../../broker/broker.js';
import { MAX_DURATION_MS, noQuery } from '../machines/schemas.js';
import { authenticate, principal } from '../http/auth.js';
import { noStore } from '../http/no-store.js';
import { body, idParam, query } from '../http/params.js';
import type { MachinesDeps } from '../machines/routes/shared.js';
import type { PublicUrls } from '../urls.js';
import { DEVICE_USERNAME_PREFIX, type DeviceCredentials } from './credentials.js';
import type { Dispatcher } from './dispatch.js';
import type { DeviceStates } from './state.js';
import type { DeviceCredentialRecord } from './types.js';

export interface DevicesDeps {
  credentials: DeviceCredentials;
  /** Absent when MQTT is off: triggers then answer 503. */
  dispatcher: Dispatcher | undefined;
  states: DeviceStates;
  urls: PublicUrls;
  /** The broker's TCP port, once it listens. */
  mqttPort: () => number | undefined;
  /** The bitcoinSwitch device string of a credential (`devices/bitcoinswitch.ts`). */
  bitcoinSwitch: (credential: DeviceCredentialRecord) => string;
}

export const credentialBody = z.strictObject({
  label: z.string().trim().min(1).max(64).superRefine(displayText('line')).optional(),
});

export const triggerBody = z.strictObject({
  duration_ms: z.int('must be a whole number of milliseconds').min(0).max(MAX_DURATION_MS).optional(),
  reason: z.string().trim().min(1).max(64).superRefine(displayText('line')).optional(),
});

/** What the API sends for a device credential (never its password hash). */
export function credentialView(c: DeviceCredentialRecord) {
  return { credential_id: c.credential_id, asset_id: c.asset_id, username: `${DEVICE_USERNAME_PREFIX}${c.credential_id}`, label: c.label, created: c.created };
}

export function deviceRoutes(machines: MachinesDeps, deps: DevicesDeps): (router: Router) => void {
  const read = authenticate(machines, 'read');
  const write = authenticate(machines, 'write');

  return (router) => {
    router.post('/api/v1/assets/:id/device-credentials', write, async (ctx) => {
      query(ctx, noQuery);
      const input = body(ctx, credentialBody);
      const assetId = idParam(ctx, 'id');
      const { credential, password } = await deps.credentials.issue(principal(ctx), assetId, input.label ?? null);
      requestLogger(ctx).info({ userId: credential.user_id, assetId, credentialId: credential.credential_id }, 'device credential issued');
      const origin = new URL(deps.urls.base);
      const port = deps.mqttPort();
      const topic = (kind: Parameters<typeof assetTopic>[2]) => assetTopic(credential.user_id, assetId, kind);
      noStore(ctx);
      ctx.status = 201;
      ctx.body = {
        ...credentialView(credential),
        password,
        warning: 'Store this password now: it is shown once and cannot be recovered.',
        mqtt: {
          // Where this bridge's broker listens (behind a proxy, use the address the proxy forwards).
          url: port === undefined ? null : `mqtt://${origin.hostname}:${port}`,
          websocket_url: port === undefined ? null : `${origin.origin.replace(/^http/, 'ws')}${WEBSOCKET_PATH}`,
          topic_prefix: `${TOPIC_ROOT}/${credential.user_id}/${assetId}/`,
          subscribe: [topic('payment'), topic('action/set'), topic('license'), topic('stats'), BRIDGE_STATE_TOPIC],
          publish: [topic('action'), topic('status'), topic('license/request')],
        },
        // LNbits bitcoinSwitch firmware, unmodified: its device string (a secret like the password).
        bitcoinswitch: { device_string: deps.bitcoinSwitch(credential) },
      };
    });

    router.get('/api/v1/assets/:id/device-credentials', read, async (ctx) => {
      query(ctx, noQuery);
      ctx.body = { credentials: (await deps.credentials.list(principal(ctx), idParam(ctx, 'id'))).map(credentialView) };
    });

    router.delete('/api/v1/assets/:id/device-credentials/:credential_id', write, async (ctx) => {
      query(ctx, noQuery);
      const revoked = await deps.credentials.revoke(principal(ctx), idParam(ctx, 'id'), idParam(ctx, 'credential_id'));
      requestLogger(ctx).info({ userId: revoked.user_id, assetId: revoked.asset_id, credentialId: revoked.credential_id }, 'device credential revoked');
      ctx.body = { ...credentialView(revoked), revoked_at: revoked.revoked_at };
    });

    router.post('/api/v1/assets/:id/trigger', write, async (ctx) => {
      query(ctx, noQuery);
      const input = body(ctx, triggerBody);
      const asset = await machines.assets.get(principal(ctx), idParam(ctx, 'id'));
      if (!deps.dispatcher) {
        throw new AppError(503, 'mqtt_disabled', 'The MQTT broker is off on this bridge (MQTT_ENABLED=false): there is no device to trigger');
      }
      const message = await deps.dispatcher.trigger(asset.user_id, asset.asset_id, input.duration_ms ?? asset.duration_ms, input.reason ?? 'trigger');
      ctx.status = 202;
      ctx.body = {
        ...message,
        asset_id: asset.asset_id,
        topic: assetTopic(asset.user_id, asset.asset_id, 'action/set'),
        device_online: (await deps.states.view(asset.asset_id)).online === true,
      };
    });
  };
}

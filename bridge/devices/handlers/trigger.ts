/**
 * The manual trigger (`POST /api/v1/assets/{id}/trigger`, or a `trigger` message, e.g. Home
 * Assistant's button): an `action/set` that runs the machine without a payment.
 */
import type { Logger } from 'pino';
import type { Broker } from '../../../broker/broker.js';
import type { ActionSetMessage } from '../../../broker/topics.js';
import { newId } from '../../ids.js';
import { sendToAsset } from '../publish.js';
import type { TopicHandler } from './message.js';

export async function sendTrigger(broker: Broker, log: Logger, userId: string, assetId: string, durationMs: number, reason: string): Promise<ActionSetMessage> {
  const message: ActionSetMessage = { trigger_id: newId(), duration_ms: durationMs, reason };
  await sendToAsset(broker, userId, assetId, 'action/set', message);
  log.info({ userId, assetId, triggerId: message.trigger_id, durationMs, reason }, 'trigger sent');
  return message;
}

/** `trigger`: the asset's own run length. */
export function triggerHandler(options: { broker: Broker; log: Logger }): TopicHandler {
  return async ({ userId, assetId, asset }) => {
    await sendTrigger(options.broker, options.log, userId, assetId, asset.duration_ms, 'mqtt trigger');
  };
}

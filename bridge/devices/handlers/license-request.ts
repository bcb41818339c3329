/** `license/request`: a device asks whether its license holds; the answer goes to its `license` topic. */
import type { Broker } from '../../../broker/broker.js';
import { licenseRequestMessage, type LicenseMessage, type LicenseRequestMessage } from '../../../broker/topics.js';
import { sendToAsset } from '../publish.js';
import { parseJson, type TopicHandler } from './message.js';

/** Answers a device's license check; until the license server exists, nobody does. */
export type LicenseAnswerer = (userId: string, assetId: string, request: LicenseRequestMessage) => Promise<LicenseMessage>;

export function licenseRequestHandler(options: { broker: Broker; license?: LicenseAnswerer | undefined }): TopicHandler {
  return async ({ userId, assetId, payload, bad }) => {
    const message = parseJson(payload, licenseRequestMessage);
    if ('problem' in message) return bad(message.problem);
    const answer = options.license
      ? await options.license(userId, assetId, message.value)
      : { request_id: message.value.request_id, ok: false as const, reason: 'not_available', message: 'This bridge has no license server yet' };
    await sendToAsset(options.broker, userId, assetId, 'license', answer);
  };
}

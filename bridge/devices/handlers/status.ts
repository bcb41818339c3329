/** `status`: the machine says it is `online` or `offline` (its will says `offline`); the online state follows. */
import { statusMessage } from '../../../broker/topics.js';
import type { DeviceStates } from '../state.js';
import type { TopicHandler } from './message.js';

export function statusHandler(options: { states: DeviceStates }): TopicHandler {
  return async ({ userId, assetId, payload, within, bad }) => {
    const text = payload
      .toString('utf8')
      .trim()
      .replace(/^"(.*)"$/, '$1');
    const status = statusMessage.safeParse(text.toLowerCase());
    if (!status.success) return bad('status must be "online" or "offline"');
    await options.states.status(userId, assetId, status.data === 'online', within);
  };
}

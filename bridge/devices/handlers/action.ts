/**
 * `action`: what the machine did, stored as an event (before the machine's PUBACK, so a report is
 * never lost). Reporting a payment (`payment_id`) is how a machine acknowledges it, clean sessions too.
 */
import { actionMessage } from '../../../broker/topics.js';
import { jsonTextProblem, textProblem } from '../../http/text.js';
import type { EventLog } from '../../machines/event-log.js';
import type { PaymentOutbox } from '../outbox.js';
import { parseJson, type TopicHandler } from './message.js';

export function actionHandler(options: { events: EventLog; outbox: PaymentOutbox }): TopicHandler {
  return async ({ userId, assetId, payload, bad }) => {
    const message = parseJson(payload, actionMessage);
    if ('problem' in message) return bad(message.problem);
    const { type, external_id, payment_id, data } = message.value;
    // What a machine reports reaches dashboards and webhooks as the HTTP API's events do: the same text rules.
    const idProblem = external_id === undefined ? undefined : textProblem(external_id, 'line');
    if (idProblem !== undefined) return bad(`external_id: ${idProblem}`);
    const dataProblem = data === undefined ? undefined : jsonTextProblem(data);
    if (dataProblem !== undefined) return bad(`data${dataProblem.path.map((p) => `.${p}`).join('')}: ${dataProblem.problem}`);
    await options.events.append(
      userId,
      { type, asset_id: assetId, external_id: external_id ?? null, data: payment_id === undefined ? (data ?? null) : { ...data, payment_id } },
      'mqtt',
    );
    if (payment_id !== undefined) await options.outbox.delivered(userId, assetId, payment_id);
  };
}

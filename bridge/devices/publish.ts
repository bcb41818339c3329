/** A bridge message to one asset's topic, with the QoS and retain flag `broker/topics.ts` gives that topic. */
import type { Broker } from '../../broker/broker.js';
import { assetTopic, TOPIC_SPECS, type AssetTopic, type TopicPayloads } from '../../broker/topics.js';

export function sendToAsset<T extends AssetTopic>(broker: Broker, userId: string, assetId: string, topic: T, payload: TopicPayloads[T]): Promise<void> {
  const spec = TOPIC_SPECS[topic];
  return broker.publish(assetTopic(userId, assetId, topic), JSON.stringify(payload), { qos: spec.qos, retain: spec.retain });
}

/**
 * Probes for what a broker allows, with the real `mqtt` client: the CONNACK code of a login, the
 * SUBACK code of one filter, and whether a QoS 1 PUBLISH was acknowledged or made the broker close
 * the connection (MQTT 3.1.1 has no negative PUBACK: a refused PUBLISH closes it, [MQTT-3.3.5-2]).
 */
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';

/** 'connected', or the CONNACK return code of a refusal (MQTT 3.1.1 §3.2.2.3). */
export function connackCode(url: string, options: IClientOptions): Promise<'connected' | number> {
  return new Promise((resolve) => {
    const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, protocolVersion: 4, ...options });
    client.once('connect', () => {
      resolve('connected');
      client.end(true);
    });
    client.once('error', (err) => {
      resolve((err as Error & { code?: number }).code ?? -1);
      client.end(true);
    });
  });
}

/** The SUBACK return code of one filter (0x80 = refused), or 'closed' when the broker dropped the connection. */
export function subackCode(client: MqttClient, filter: string, qos: 0 | 1 = 1): Promise<number | 'closed'> {
  return new Promise((resolve, reject) => {
    const onClose = () => resolve('closed');
    client.once('close', onClose);
    client.subscribe(filter, { qos }, (err, grants) => {
      client.off('close', onClose);
      const packet = (err as (Error & { packet?: { granted?: number[] } }) | null)?.packet;
      // Refused by the client itself (an invalid filter): not a broker answer.
      if (err && !packet) reject(err);
      else resolve(packet?.granted?.[0] ?? grants?.[0]?.qos ?? -1);
    });
  });
}

/** Publish at QoS 1: 'acked' when the PUBACK came back, 'closed' when the broker closed the connection instead. */
export function publishOutcome(client: MqttClient, topic: string, payload: string | Buffer, retain = false): Promise<'acked' | 'closed'> {
  return new Promise((resolve) => {
    if (!client.connected) {
      resolve('closed');
      return;
    }
    let settled = false;
    const done = (value: 'acked' | 'closed') => {
      if (settled) return;
      settled = true;
      client.off('close', onClose);
      resolve(value);
    };
    const onClose = () => done('closed');
    client.once('close', onClose);
    client.publish(topic, payload, { qos: 1, retain }, (err) => done(err ? 'closed' : 'acked'));
  });
}

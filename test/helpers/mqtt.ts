/** MQTT test clients: connect with the real `mqtt` client and collect what arrives. */
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';

export interface Received {
  topic: string;
  payload: string;
  retain: boolean;
  qos: number;
}

export interface TestClient {
  client: MqttClient;
  received: Received[];
  /** Messages on one topic, payloads parsed as JSON when they are JSON. */
  on(topic: string): unknown[];
  end(): Promise<void>;
}

export async function connectMqtt(url: string, options: IClientOptions): Promise<TestClient> {
  const client = await mqtt.connectAsync(url, { reconnectPeriod: 0, protocolVersion: 4, connectTimeout: 5000, ...options });
  const received: Received[] = [];
  client.on('message', (topic, payload, packet) => received.push({ topic, payload: payload.toString(), retain: packet.retain, qos: packet.qos }));
  return {
    client,
    received,
    on: (topic) =>
      received
        .filter((m) => m.topic === topic)
        .map((m) => {
          try {
            return JSON.parse(m.payload) as unknown;
          } catch {
            return m.payload;
          }
        }),
    end: () => client.endAsync(true),
  };
}

/**
 * A minimal MQTT 3.1.1 client that writes packets byte by byte, for what well-behaved clients refuse
 * to send: invalid topic filters (`paywire/x+`, [MQTT-4.7.1-2]), wildcards in PUBLISH [MQTT-3.3.2-2].
 * It speaks CONNECT, SUBSCRIBE, PUBLISH (QoS 0/1) and PUBACK, and reads CONNACK, SUBACK, PUBACK and
 * PUBLISH; it tells when the broker closed the connection.
 */
import { connect, type Socket } from 'node:net';

export interface RawMessage {
  topic: string;
  payload: Buffer;
  qos: number;
}

function remainingLength(n: number): Buffer {
  const bytes: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    bytes.push(byte);
  } while (n > 0);
  return Buffer.from(bytes);
}

function str(s: string | Buffer): Buffer {
  const b = typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
  const len = Buffer.alloc(2);
  len.writeUInt16BE(b.length);
  return Buffer.concat([len, b]);
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function packet(first: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([first]), remainingLength(body.length), body]);
}

export class RawMqtt {
  readonly received: RawMessage[] = [];
  /** Resolves when the broker (or we) closed the connection. */
  readonly closed: Promise<void>;
  private readonly socket: Socket;
  private buffer = Buffer.alloc(0);
  private nextId = 1;
  private connack: ((code: number) => void) | undefined;
  private readonly waiting = new Map<number, (value: number[]) => void>();
  private isClosed = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.isClosed = true;
        resolve();
      }),
    );
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => this.read(chunk));
  }

  get isOpen(): boolean {
    return !this.isClosed;
  }

  /** Connect and log in; resolves with the client and the CONNACK return code. */
  static async connect(
    port: number,
    login: { username?: string; password?: string; clientId?: string; clean?: boolean },
  ): Promise<{ client: RawMqtt; code: number }> {
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const client = new RawMqtt(socket);
    let flags = login.clean === false ? 0 : 0x02; // clean session unless asked
    if (login.username !== undefined) flags |= 0x80;
    if (login.password !== undefined) flags |= 0x40;
    const body = Buffer.concat([
      str('MQTT'),
      Buffer.from([4, flags]), // protocol level 4 = MQTT 3.1.1
      u16(30),
      str(login.clientId ?? `raw-${Math.random().toString(36).slice(2, 10)}`),
      ...(login.username !== undefined ? [str(login.username)] : []),
      ...(login.password !== undefined ? [str(login.password)] : []),
    ]);
    const code = new Promise<number>((resolve) => {
      client.connack = resolve;
      void client.closed.then(() => resolve(-1));
    });
    socket.write(packet(0x10, body));
    return { client, code: await code };
  }

  /** SUBSCRIBE one filter: its SUBACK return code, or 'closed' when the broker closed the connection. */
  async subscribe(filter: string, qos = 1): Promise<number | 'closed'> {
    const id = this.nextId++;
    const answer = this.wait(id);
    this.socket.write(packet(0x82, Buffer.concat([u16(id), str(filter), Buffer.from([qos])])));
    const result = await Promise.race([answer, this.closed.then(() => 'closed' as const)]);
    return result === 'closed' ? result : (result[0] ?? -1);
  }

  /** PUBLISH; at QoS 1 resolves 'acked' on PUBACK, or 'closed'. At QoS 0 resolves 'closed' if the broker closes within `graceMs`, else 'sent'. */
  async publish(topic: string, payload: string | Buffer, qos: 0 | 1 = 1, graceMs = 300): Promise<'acked' | 'sent' | 'closed'> {
    const data = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
    if (qos === 0) {
      this.socket.write(packet(0x30, Buffer.concat([str(topic), data])));
      const result = await Promise.race([this.closed.then(() => 'closed' as const), new Promise<'sent'>((r) => setTimeout(r, graceMs, 'sent'))]);
      return result;
    }
    const id = this.nextId++;
    const answer = this.wait(id);
    this.socket.write(packet(0x32, Buffer.concat([str(topic), u16(id), data])));
    const result = await Promise.race([answer.then(() => 'acked' as const), this.closed.then(() => 'closed' as const)]);
    return result;
  }

  end(): void {
    this.socket.destroy();
  }

  private wait(id: number): Promise<number[]> {
    return new Promise((resolve) => this.waiting.set(id, resolve));
  }

  private read(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    for (;;) {
      if (this.buffer.length < 2) return;
      let length = 0;
      let multiplier = 1;
      let offset = 1;
      for (;;) {
        const byte = this.buffer[offset];
        if (byte === undefined) return; // the length is not all here yet
        length += (byte & 0x7f) * multiplier;
        multiplier *= 128;
        offset += 1;
        if ((byte & 0x80) === 0) break;
      }
      if (this.buffer.length < offset + length) return;
      const first = this.buffer[0] as number;
      const body = this.buffer.subarray(offset, offset + length);
      this.buffer = this.buffer.subarray(offset + length);
      this.handle(first, body);
    }
  }

  private handle(first: number, body: Buffer): void {
    const type = first >> 4;
    if (type === 2)
      this.connack?.(body[1] ?? -1); // CONNACK
    else if (type === 9 || type === 4) {
      // SUBACK (codes follow the id) or PUBACK
      const id = body.readUInt16BE(0);
      this.waiting.get(id)?.([...body.subarray(2)]);
      this.waiting.delete(id);
    } else if (type === 3) {
      // PUBLISH
      const qos = (first >> 1) & 0x03;
      const topicLength = body.readUInt16BE(0);
      const topic = body.subarray(2, 2 + topicLength).toString('utf8');
      let rest = body.subarray(2 + topicLength);
      if (qos > 0) {
        const id = rest.readUInt16BE(0);
        rest = rest.subarray(2);
        this.socket.write(packet(0x40, u16(id))); // PUBACK
      }
      this.received.push({ topic, payload: Buffer.from(rest), qos });
    }
  }
}

/**
 * Slow clients: a request whose headers or body trickle in and never finish is closed at the
 * configured HTTP_HEADERS_TIMEOUT_MS / HTTP_REQUEST_TIMEOUT_MS, not up to Node's 30 s connection
 * check later. Each case holds a raw TCP socket that keeps sending a byte now and then (so no idle
 * timeout could be what closes it) and measures when the bridge hangs up.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../bridge/config.js';
import { connectMqtt } from '../helpers/mqtt.js';
import { startBridge, type TestBridge } from '../helpers/bridge.js';

const HEADERS_MS = 1_000;
const REQUEST_MS = 2_000;

let t: TestBridge;

beforeAll(async () => {
  t = await startBridge({ HTTP_HEADERS_TIMEOUT_MS: HEADERS_MS, HTTP_REQUEST_TIMEOUT_MS: REQUEST_MS });
});

afterAll(async () => {
  await t.close();
});

interface Trickled {
  /** When the bridge closed the connection, from the first byte sent; undefined if it was still open at `giveUpMs`. */
  closedAfterMs: number | undefined;
  received: string;
}

/** Send `head`, then one byte of `drip` every 200 ms, until the bridge closes the socket or `giveUpMs` passes. */
function trickle(head: string, drip: string, giveUpMs: number): Promise<Trickled> {
  return new Promise((resolve, reject) => {
    const socket = connect(t.info.httpPort, '127.0.0.1');
    let received = '';
    let started = 0;
    let i = 0;
    let timer: NodeJS.Timeout | undefined;
    const giveUp = setTimeout(() => {
      clearInterval(timer);
      socket.destroy();
      resolve({ closedAfterMs: undefined, received });
    }, giveUpMs);
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (received += chunk));
    socket.on('error', () => undefined);
    socket.on('connect', () => {
      started = Date.now();
      socket.write(head);
      timer = setInterval(() => {
        if (!socket.destroyed) socket.write(drip[i++ % drip.length] as string);
      }, 200);
    });
    socket.on('close', () => {
      clearInterval(timer);
      clearTimeout(giveUp);
      if (started === 0) reject(new Error('could not connect'));
      else resolve({ closedAfterMs: Date.now() - started, received });
    });
  });
}

describe('slow clients', () => {
  it('closes a request whose headers never finish within 3x HTTP_HEADERS_TIMEOUT_MS', async () => {
    const result = await trickle('GET /api/v1/accounts/me HTTP/1.1\r\nHost: x\r\nX-Slow: ', 'abcdefghijklmnopqrstuvwxyz', 3 * HEADERS_MS);
    expect(result.closedAfterMs, 'still open after 3x the headers timeout').toBeDefined();
    expect(result.closedAfterMs).toBeGreaterThanOrEqual(HEADERS_MS - 100);
    expect(result.received).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('closes a request whose body never finishes within 3x HTTP_REQUEST_TIMEOUT_MS', async () => {
    const head = 'POST /api/v1/accounts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"label":"';
    const result = await trickle(head, 'slowbot', 3 * REQUEST_MS);
    expect(result.closedAfterMs, 'still open after 3x the request timeout').toBeDefined();
    expect(result.closedAfterMs).toBeGreaterThanOrEqual(REQUEST_MS - 100);
  });

  it('still answers a request that is slow but finishes in time', async () => {
    const body = '{"label":"patient"}';
    const head = `POST /api/v1/accounts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`;
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(t.info.httpPort, '127.0.0.1');
      let received = '';
      socket.setEncoding('latin1');
      socket.on('data', (chunk: string) => (received += chunk));
      socket.on('error', reject);
      socket.on('close', () => resolve(received));
      socket.on('connect', () => {
        socket.write(head);
        // Half the body now, the rest well inside the request timeout.
        socket.write(body.slice(0, 8));
        setTimeout(() => socket.write(body.slice(8)), 300);
      });
    });
    expect(answer).toMatch(/^HTTP\/1\.1 201 /);
  });

  it('leaves an MQTT-over-WebSocket connection open past the request timeout (it is no longer a request)', async () => {
    const { key, userId } = await t.signup('ws-client');
    const ws = await connectMqtt(`${t.url.replace('http', 'ws')}/mqtt`, { username: userId, password: key });
    let closed = false;
    ws.client.on('close', () => (closed = true));
    try {
      await new Promise((resolve) => setTimeout(resolve, REQUEST_MS + 500));
      expect(closed).toBe(false);
      expect(ws.client.connected).toBe(true);
    } finally {
      await ws.end();
    }
  });

  it('refuses a headers timeout longer than the request timeout', () => {
    expect(() => loadConfig({ env: { HTTP_HEADERS_TIMEOUT_MS: '5000', HTTP_REQUEST_TIMEOUT_MS: '2000' } })).toThrow(/HTTP_HEADERS_TIMEOUT_MS/);
  });
});

/**
 * Bounded reads from tenant-chosen servers: a buffered JSON answer over the cap is an error, not a
 * buffer; an LND "wallet" that streams bytes without newlines has its stream cut once a line passes
 * the cap (and opened again later by the backend's reconnect logic), so memory stays bounded; the
 * line splitter keeps lines split across chunks and multi-byte characters whole.
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { LineSplitter, Outbound, OutboundError } from '../../bridge/http/outbound.js';
import { OutboundAllow } from '../../bridge/http/ssrf.js';
import { BackendError } from '../../bridge/lightning/backends/backend.js';
import { LnbitsBackend } from '../../bridge/lightning/backends/lnbits.js';
import { LndBackend } from '../../bridge/lightning/backends/lnd.js';
import { Metrics } from '../../bridge/metrics.js';
import { until, serversClosedAfterEach } from '../helpers/receiver.js';

const servers = serversClosedAfterEach();

async function listen(handler: (res: ServerResponse, path: string) => void): Promise<string> {
  const server = createServer((req, res) => handler(res, req.url ?? '/'));
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function loopbackOutbound(metrics: Metrics, options: { maxBodyBytes?: number; maxLineBytes?: number } = {}): Outbound {
  const allow = OutboundAllow.parse('127.0.0.1');
  if ('error' in allow) throw new Error(allow.error);
  return new Outbound({ allow: allow.value, metrics, ...options });
}

const tooLarge = async (metrics: Metrics) => (await metrics.refusals.get()).values.find((v) => v.labels.reason === 'too_large')?.value ?? 0;

describe('a buffered answer', () => {
  it('over 1 MiB is an error, whether it says its length or not', async () => {
    // Valid JSON, 2 MiB: once the largest answer anyone could hand us.
    const big = JSON.stringify({ paid: false, pad: 'x'.repeat(2 * 1024 * 1024) });
    const url = await listen((res, path) => {
      if (path.includes('chunked')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write(big.slice(0, 1_000_000));
        res.end(big.slice(1_000_000));
      } else res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(big)) }).end(big);
    });
    const metrics = new Metrics();
    const outbound = loopbackOutbound(metrics);
    for (const base of [url, `${url}/chunked`]) {
      const lnbits = new LnbitsBackend({ url: base }, { invoice_key: 'k' }, { timeoutMs: 10_000, outbound });
      const err = await lnbits.lookupInvoice('ab'.repeat(32)).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err, base).toBeInstanceOf(BackendError);
      expect((err as BackendError).message, base).toMatch(/response too large/);
    }
    expect(await tooLarge(metrics)).toBe(2);
    // Just under the cap is read.
    const fits = await listen((res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ pad: 'y'.repeat(1024 * 1024 - 20) })));
    expect((await outbound.request(fits, { timeoutMs: 10_000 })).status).toBe(200);
  });
});

describe('an LND invoice stream', () => {
  it('that sends bytes without a newline is cut after the line cap and opened again later', async () => {
    const opened: { written: number; closed: boolean }[] = [];
    const url = await listen((res, path) => {
      if (!path.startsWith('/v1/invoices/subscribe')) return void res.writeHead(404).end('{}');
      const stream = { written: 0, closed: false };
      opened.push(stream);
      res.writeHead(200, { 'content-type': 'application/json' });
      const junk = Buffer.alloc(16 * 1024, 'a');
      // Forever, as fast as the reader takes it (bounded here so a reader that never gives up cannot exhaust the test).
      const pump = () => {
        while (!stream.closed && stream.written < 64 * 1024 * 1024) {
          stream.written += junk.length;
          if (!res.write(junk)) return void res.once('drain', pump);
        }
      };
      res.on('close', () => {
        stream.closed = true;
      });
      pump();
    });
    const metrics = new Metrics();
    const backend = new LndBackend({ url }, { macaroon: '02'.repeat(32) }, { timeoutMs: 10_000, outbound: loopbackOutbound(metrics) }, { reconnectMinMs: 50 });
    const stop = backend.watch(() => undefined);
    try {
      await until(() => opened.length >= 2, 10_000, 'the stream to be dropped and opened again');
      expect(opened[0]?.closed).toBe(true);
      // What the fake got out before the cut: the 64 KiB cap plus what socket buffers hold, far from unbounded.
      expect(opened[0]?.written).toBeLessThan(16 * 1024 * 1024);
      expect(await tooLarge(metrics)).toBeGreaterThanOrEqual(1);
    } finally {
      await stop();
    }
  });
});

describe('the line splitter', () => {
  it('joins lines split across chunks, keeps multi-byte characters whole, and refuses an over-long line', () => {
    const lines = new LineSplitter(16);
    expect(lines.push(Buffer.from('{"a":1}\n{"b"'))).toEqual(['{"a":1}']);
    const euro = Buffer.from('"€"\n');
    expect(lines.push(Buffer.concat([Buffer.from(':'), euro.subarray(0, 2)]))).toEqual([]);
    expect(lines.push(euro.subarray(2))).toEqual(['{"b":"€"']);
    expect(lines.push(Buffer.from('\n\nx\n'))).toEqual(['', '', 'x']);
    expect(lines.push(Buffer.from('0123456789'))).toEqual([]);
    expect(() => lines.push(Buffer.from('0123456789'))).toThrow(OutboundError);
    // A 16-byte line is fine; the cap is on what is held, not on the chunk.
    expect(new LineSplitter(16).push(Buffer.from(`${'z'.repeat(16)}\n${'w'.repeat(3)}\n`))).toEqual(['z'.repeat(16), 'www']);
  });
});

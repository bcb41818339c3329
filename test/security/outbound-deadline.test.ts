/**
 * A deadline that holds: every outbound request gives up at its configured time, counting
 * connect, headers and body, even while garbage collections run (on Node 20 a timeout signal passed
 * through `AbortSignal.any` could be collected before it fired, and a dead webhook endpoint then held
 * its delivery slot for ~5 minutes). The GC case runs in a child process with `--expose-gc`.
 */
import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { serversClosedAfterEach } from '../helpers/receiver.js';
import { BackendError } from '../../bridge/lightning/backends/backend.js';
import { LnbitsBackend } from '../../bridge/lightning/backends/lnbits.js';
import { testOutbound } from '../helpers/bridge.js';

const CHILD = fileURLToPath(new URL('./deadline-child.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const servers = serversClosedAfterEach();

describe('the outbound deadline', () => {
  it('holds under forced garbage collection: a never-answering webhook endpoint is given up at its timeout', async () => {
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, ['--expose-gc', '--import', 'tsx', CHILD], { cwd: ROOT, timeout: 60_000 }, (err, out, errOut) =>
        err ? reject(new Error(`${err.message}\n${errOut}`)) : resolve(out),
      );
    });
    const result = JSON.parse(stdout.trim().split('\n').pop() as string) as {
      webhook: { ms: number | null; attemptMs?: number; error?: string };
      direct: { ms: number | null; error?: string };
    };
    // 300 ms deadlines; 10x that is generous for a loaded machine and far below the minutes it took.
    expect(result.webhook.ms).not.toBeNull();
    expect(result.webhook.error).toBe('timeout');
    expect(result.webhook.attemptMs).toBeLessThan(3_000);
    expect(result.direct.error).toBe('timeout');
    expect(result.direct.ms).toBeLessThan(3_000);
  }, 60_000);

  it('counts the body: a wallet that trickles its answer is given up at the deadline', async () => {
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"paid": false');
      // A byte every 100 ms keeps an idle timeout from ever firing; JSON whitespace forever.
      const drip = setInterval(() => res.write(' '), 100);
      res.on('close', () => clearInterval(drip));
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const lnbits = new LnbitsBackend(
      { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` },
      { invoice_key: 'k' },
      { timeoutMs: 500, outbound: testOutbound() },
    );
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      lnbits.lookupInvoice('ab'.repeat(32)).then(
        () => 'answered',
        (err: unknown) => err,
      ),
      new Promise((resolve) => {
        timer = setTimeout(() => resolve('still waiting after 5 s'), 5_000);
      }),
    ]);
    clearTimeout(timer);
    expect(outcome).toBeInstanceOf(BackendError);
    expect((outcome as BackendError).message).toMatch(/timed out after 500 ms/);
  });
});

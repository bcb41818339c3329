/**
 * Benchmark `device`: the device daemon's share of a vend. A real `Bridge` (bench/mqtt-fleet.ts: dev
 * backend, limits off) with 50 assets, each with its device credential; ONE daemon for all 50 (the
 * compiled JavaScript a Pi runs, `device/dist`, built first with tsc) as a child process, with the
 * console relay (its "pin write" is a log line carrying process.hrtime, i.e. CLOCK_MONOTONIC, the
 * clock every process of the machine shares). Payment messages are published on the bridge's
 * embedded broker at 50/s (open loop, round-robin over the assets: one a second each, 100 ms runs,
 * so none waits behind another) and each is timed from just before `broker.publish` to its relay's
 * pin write in the daemon: MQTT delivery, parsing, the ledger's fdatasync, the pin. The daemon's
 * resident memory is read from /proc during the run. Goals: p99 < 5 ms, RSS < 80 MB. Every payment
 * must fire exactly once; timing never fails the run.
 */
import { spawn, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { assetTopic, type PaymentMessage } from '../broker/topics.js';
import { startFleet, stopFleet } from './mqtt-fleet.js';

const ASSETS = 50;
const RATE = 50;
const WARM = 250;
const MEASURED = 1_500;
const DURATION_MS = 100;
const GOAL = { p99: 5, rssMb: 80 };
const ROOT = fileURLToPath(new URL('../', import.meta.url));
/** The V8 flags device/paywire-device.service runs the daemon with (a smaller young generation and heap cap). */
const SERVICE_NODE_FLAGS = ['--max-semi-space-size=1', '--max-old-space-size=64', '--lite-mode'];

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

export async function run(): Promise<void> {
  console.log(`${ASSETS} assets on one daemon (compiled JS, child process, one MQTT connection per asset with its device credential)`);
  console.log(`${RATE} payments/s published on the embedded broker, round-robin; ${DURATION_MS} ms runs; ${WARM} warm-up + ${MEASURED} measured`);
  console.log(
    `load average (1, 5, 15 min): ${loadavg()
      .map((l) => l.toFixed(2))
      .join(', ')} on ${availableParallelism()} cores`,
  );
  execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'device/tsconfig.build.json')], { stdio: 'inherit' });

  const fleet = await startFleet(ASSETS);
  const dir = await mkdtemp(join(tmpdir(), 'paywire-bench-device-'));
  const broker = fleet.bridge.broker!;
  let child: ReturnType<typeof spawn> | undefined;
  try {
    await writeFile(
      join(dir, 'device.json'),
      JSON.stringify({
        account_id: fleet.userId,
        mqtt: { url: fleet.mqttUrl },
        state_dir: join(dir, 'state'),
        log_level: 'info',
        assets: fleet.devices.map((d) => ({
          asset_id: d.assetId,
          qr: 'LNURL1DP68GURN8GHJ7UM9WFMXJCM99E3K7MF0V9CXJ0M385EKVCENXC6R2C35XVUKXEFCV5MKVV34X5EKZD3EV56NYD3HXQURZEPEXEJXXEPNXSCRVWFNV9NXZCN9XQ6XYEFHVGCXXCMYXYMNSERXFQ5FNS',
          relay: { type: 'console' },
          login: { username: d.username, password: d.password },
        })),
      }),
    );
    const proc = spawn(process.execPath, [...SERVICE_NODE_FLAGS, join(ROOT, 'device/dist/device/cli.js'), '--config', join(dir, 'device.json')], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    child = proc;
    const ons = new Map<string, bigint[]>();
    const inDaemon: number[] = [];
    const ledger: number[] = [];
    let connected = 0;
    let running = false;
    let partial = '';
    proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      partial += chunk;
      const lines = partial.split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (line.includes('"relay on"')) {
          const e = JSON.parse(line) as { asset_id: string; mono_ns: string };
          const list = ons.get(e.asset_id) ?? [];
          list.push(BigInt(e.mono_ns));
          ons.set(e.asset_id, list);
        } else if (line.includes('"msg":"vend"')) {
          const e = JSON.parse(line) as { id: string; daemon_ms?: number; ledger_ms?: number };
          if (Number(e.id.slice(7)) >= WARM) {
            inDaemon.push(e.daemon_ms ?? NaN);
            ledger.push(e.ledger_ms ?? NaN);
          }
        } else if (line.includes('"mqtt connected"')) connected += 1;
        else if (line.includes('"paywire-device running"')) running = true;
      }
    });
    const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
    const startedAt = Date.now();
    while (!(running && connected >= ASSETS)) {
      if (Date.now() - startedAt > 30_000) throw new Error(`daemon not connected in time (${connected}/${ASSETS})`);
      if (proc.exitCode !== null) throw new Error(`daemon exited with ${proc.exitCode}`);
      await sleep(20);
    }
    await sleep(500);
    const rssIdle = rssMb(proc.pid!);

    const sent = new Map<string, bigint[]>();
    const total = WARM + MEASURED;
    const interval = 1_000 / RATE;
    const t0 = performance.now();
    let rssPeak = rssIdle;
    for (let i = 0; i < total; i++) {
      const due = t0 + i * interval;
      const wait = due - performance.now();
      if (wait > 1) await sleep(wait - 0.5);
      while (performance.now() < due) {
        /* spin the last half millisecond */
      }
      const device = fleet.devices[i % ASSETS]!;
      const message: PaymentMessage = {
        payment_id: `bench${i.toString().padStart(6, '0')}`,
        asset_id: device.assetId,
        amount_sats: 100,
        rail: 'lightning',
        duration_ms: DURATION_MS,
        paid_at: new Date().toISOString(),
      };
      const list = sent.get(device.assetId) ?? [];
      list.push(process.hrtime.bigint());
      sent.set(device.assetId, list);
      void broker.publish(assetTopic(fleet.userId, device.assetId, 'payment'), JSON.stringify(message), { qos: 1, retain: false });
      if (i % RATE === 0) rssPeak = Math.max(rssPeak, rssMb(proc.pid!));
    }
    const offered = total / ((performance.now() - t0) / 1000);
    const deadline = Date.now() + 15_000;
    const fired = () => [...ons.values()].reduce((n, l) => n + l.length, 0);
    while (fired() < total && Date.now() < deadline) await sleep(50);
    await sleep(300);
    rssPeak = Math.max(rssPeak, rssMb(proc.pid!));

    // Per asset, payments arrive and fire in order (one connection, QoS 1): the k-th send is the k-th pin write.
    const latencies: number[] = [];
    let mismatched = 0;
    for (const [assetId, times] of sent) {
      const fires = ons.get(assetId) ?? [];
      if (fires.length !== times.length) mismatched += Math.abs(fires.length - times.length);
      times.forEach((t, k) => {
        const f = fires[k];
        if (f !== undefined && Math.floor(k * ASSETS + fleet.devices.findIndex((d) => d.assetId === assetId)) >= WARM) latencies.push(Number(f - t) / 1e6);
      });
    }
    latencies.sort((a, b) => a - b);
    const p50 = pct(latencies, 50);
    const p99 = pct(latencies, 99);
    console.log(`\noffered ${offered.toFixed(1)} payments/s; fired ${fired()} of ${total}${mismatched ? `; MISMATCH ${mismatched}` : ' (each exactly once)'}`);
    console.log(
      `broker publish -> relay pin write (n=${latencies.length}): p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms, max ${latencies.at(-1)?.toFixed(2)} ms  (goal p99 < ${GOAL.p99} ms: ${p99 < GOAL.p99 ? 'met' : 'NOT met'})`,
    );
    inDaemon.sort((a, b) => a - b);
    ledger.sort((a, b) => a - b);
    console.log(
      `  of which in the daemon (message in -> pin): p50 ${pct(inDaemon, 50).toFixed(2)} ms, p99 ${pct(inDaemon, 99).toFixed(2)} ms; the ledger's fdatasync alone: p50 ${pct(ledger, 50).toFixed(2)} ms, p99 ${pct(ledger, 99).toFixed(2)} ms`,
    );
    console.log(
      `daemon resident memory (node ${SERVICE_NODE_FLAGS.join(' ')}): ${rssIdle.toFixed(1)} MB idle, ${rssPeak.toFixed(1)} MB peak  (goal < ${GOAL.rssMb} MB: ${rssPeak < GOAL.rssMb ? 'met' : 'NOT met'})`,
    );
    if (mismatched > 0) throw new Error(`${mismatched} payments did not fire exactly once`);
    proc.kill('SIGTERM');
    await exited;
  } finally {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await stopFleet(fleet);
    await rm(dir, { recursive: true, force: true });
  }
}

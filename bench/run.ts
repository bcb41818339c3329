/**
 * The benchmark runner: `npm run bench` runs every known benchmark, `npm run bench -- events` only the
 * ones named. Benchmarks print figures and never fail on timing; the exit code is non-zero only when a
 * benchmark is unknown or actually breaks (throws).
 */
import * as device from './device.js';
import * as events from './events.js';
import * as license from './license.js';
import * as lnurl from './lnurl.js';
import * as mqtt from './mqtt.js';
import * as x402 from './x402.js';
import * as x402Verify from './x402-verify.js';

interface Benchmark {
  name: string;
  description: string;
  run: () => Promise<void>;
}

/** Every known benchmark, in the order `npm run bench` runs them. Add new ones here. */
const BENCHMARKS: Benchmark[] = [
  { name: 'events', description: 'event appends per second with 1,000 and with 100,000 events stored', run: events.run },
  { name: 'lnurl', description: 'LNURL callback invoices per second (dev backend) and settle -> bus latency', run: lnurl.run },
  { name: 'device', description: 'payment publish -> relay pin write in the device daemon, 50 assets at 50 payments/s, and its memory', run: device.run },
  { name: 'mqtt', description: 'settle -> device latency with 1,000 devices, and QoS 1 msg/s: embedded broker vs Mosquitto', run: mqtt.run },
  { name: 'x402', description: 'verifications/s, ours vs the reference facilitators (HTTP and in process); settles/s on a local chain', run: x402.run },
  { name: 'x402-verify', description: 'x402 verify in process on the local chain (with the nonce check), and one signature recovery', run: x402Verify.run },
  { name: 'license', description: 'license validations per second through POST /v1/validate beside a no-op route, 1 and 32 at a time', run: license.run },
];

function header(bench: Benchmark): void {
  const title = `bench/${bench.name}: ${bench.description}`;
  console.log(`\n${'='.repeat(title.length)}\n${title}\n${'='.repeat(title.length)}`);
}

async function main(argv: string[]): Promise<number> {
  const names = argv.filter((a) => a !== '--');
  const unknown = names.filter((n) => !BENCHMARKS.some((b) => b.name === n));
  if (unknown.length > 0) {
    console.error(`unknown benchmark(s): ${unknown.join(', ')}; known: ${BENCHMARKS.map((b) => b.name).join(', ')}`);
    return 2;
  }
  const selected = names.length === 0 ? BENCHMARKS : BENCHMARKS.filter((b) => names.includes(b.name));
  let failed = 0;
  for (const bench of selected) {
    header(bench);
    const started = performance.now();
    try {
      await bench.run();
      console.log(`\nbench/${bench.name} finished in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    } catch (err) {
      failed += 1;
      console.error(`\nbench/${bench.name} broke:`, err);
    }
  }
  return failed === 0 ? 0 : 1;
}

process.exitCode = await main(process.argv.slice(2));

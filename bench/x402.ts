/**
 * Benchmark `x402`: verifications per second of our facilitator's `POST /x402/api/v1/verify` over HTTP
 * (a real listening `Bridge`, a client key) beside the reference facilitators' verify — the `x402` 1.2.0
 * package's `verify` (v1) and `@x402/evm` 2.27's exact scheme behind `@x402/core`'s facilitator (v2), both from
 * test/compat — each both over HTTP (served as their example facilitators serve them, bench/x402-references.ts)
 * and called in process, and ours called in process too; in the same run, on the same signed EIP-3009
 * authorizations, against a local chain (Hardhat, chain 84532, in a process of its own). Ours also reads
 * `authorizationState(from, nonce)` (the replay check the references skip). Then settles per second through
 * `POST /x402/api/v1/settle` on that chain (automine), distinct authorizations, 20 at a time.
 * Every answer is checked (valid; settled; balances moved by exactly what was settled). The HTTP client runs on a
 * worker thread (bench/http-load.ts), as a resource server would call from elsewhere, so the server's event loop
 * spends nothing on it. Over HTTP ours also pays the client key, the request metrics and the request log; the
 * references pay none of those.
 * Goal (README): ours at least 3x the references' verify rate. Reported, never judged.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getAddress, type Hex } from 'viem';
import { createInterface } from 'node:readline';
import { loadConfig } from '../bridge/config.js';
import { createLogger } from '../bridge/log.js';
import { Bridge } from '../bridge/main.js';
import { configAssetRegistry } from '../bridge/x402/evm/config-registry.js';
import type { X402NetworkConfig } from '../bridge/x402/evm/networks.js';
import { createFacilitator } from '../bridge/x402/facilitator.js';
import type { X402SettlementLedger } from '../bridge/x402/ledger.js';
import { parseFacilitatorRequest } from '../bridge/x402/wire.js';
import { createPublicClient as createRootClient, defineChain, http as rootHttp, type Address } from 'viem';
import { privateKeyToAccount as rootAccount } from 'viem/accounts';
import { CHAIN_ID, testKey, TOKEN_ABI, TOKEN_NAME, TOKEN_VERSION } from '../test/helpers/chain.js';
import { signAuthorization, v1Body, v2Body, type SignedPayment } from '../test/helpers/eip3009.js';
import {
  createPublicClient,
  createWalletClient,
  ExactEvmFacilitatorScheme,
  http as viemHttp,
  privateKeyToAccount,
  publicActions,
  referenceVerifyV1,
  toFacilitatorEvmSigner,
} from '../test/compat/clients.js';
import { send } from './http.js';
import { startLoad, type Load } from './http-load.js';
import { serveReferenceV1, serveReferenceV2, type ReferenceServer } from './x402-references.js';

/** Authorizations verified by each implementation per round, and how many are in flight at once. */
const VERIFY_COUNT = 400;
const CONCURRENCY = 16;
const ROUNDS = 5;
/**
 * Rounds run first and not reported. Every implementation's rate climbs for about ten rounds of 400 (V8 optimizing
 * the HTTP stack and the verify paths, and the chain's own process warming): the figures are steady-state rates.
 */
const WARMUP_ROUNDS = 10;
const SETTLE_COUNT = 200;
const SETTLE_CONCURRENCY = 20;
const PRICE = 10_000n;
const FEE_PAYER_ENV = 'BENCH_X402_FEE_PAYER_KEY';
const ADMIN_TOKEN = 'bench-admin-token-0123456789abcdef';

/** What the bench needs of the chain, which runs in its own process (bench/x402-chain.ts). */
interface BenchChain {
  url: string;
  chainId: number;
  chain: ReturnType<typeof defineChain>;
  token: Address;
  keys: { feePayer: Hex; payer: Hex; payer2: Hex; merchant: Hex };
  balanceOf(address: Address): Promise<bigint>;
  stop(): Promise<void>;
}

async function startChildChain(): Promise<BenchChain> {
  const child = spawn(process.execPath, ['--import', 'tsx', new URL('./x402-chain.ts', import.meta.url).pathname], { stdio: ['pipe', 'pipe', 'inherit'] });
  const [line] = (await once(createInterface({ input: child.stdout as NodeJS.ReadableStream }), 'line')) as [string];
  const { url, token } = JSON.parse(line) as { url: string; token: Address };
  const chain = defineChain({
    id: CHAIN_ID,
    name: 'Local Base Sepolia',
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [url] } },
  });
  const client = createRootClient({ chain, transport: rootHttp(url) });
  const keys = { feePayer: testKey('feePayer'), payer: testKey('payer'), payer2: testKey('payer2'), merchant: testKey('merchant') };
  return {
    url,
    chainId: CHAIN_ID,
    chain,
    token,
    keys,
    balanceOf: async (address) => (await client.readContract({ address: token, abi: TOKEN_ABI, functionName: 'balanceOf', args: [address] })) as bigint,
    async stop() {
      child.stdin?.end();
      await once(child, 'exit');
    },
  };
}

type Verdict = { isValid: boolean; invalidReason?: string | undefined };
/** Verifies each payment, `concurrency` at a time; resolves with verifications per second. */
type Runner = (payments: SignedPayment[], concurrency: number) => Promise<number>;

interface Figure {
  name: string;
  perSecond: number[];
  /** How busy the bench's event loop was (the bridge's, for ours over HTTP), per round. */
  busy: number[];
}

/** Run `count` jobs, `concurrency` at a time; returns jobs per second. */
async function rate(count: number, concurrency: number, job: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) await job(next++);
    }),
  );
  return count / ((performance.now() - started) / 1000);
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const fmt = (n: number): string => n.toLocaleString('en-US', { maximumFractionDigits: 0 });

export async function run(): Promise<void> {
  const chain = await startChildChain();
  process.env[FEE_PAYER_ENV] = chain.keys.feePayer;
  const dir = await mkdtemp(join(tmpdir(), 'paywire-bench-x402-'));
  const token = getAddress(chain.token);
  const payTo = rootAccount(chain.keys.merchant).address;
  const networks: X402NetworkConfig[] = [
    {
      network: 'base-sepolia',
      chainId: chain.chainId,
      rpcUrl: chain.url,
      feePayerKeyEnv: FEE_PAYER_ENV,
      assets: [{ address: token, symbol: 'USDC', decimals: 6, name: TOKEN_NAME, version: TOKEN_VERSION }],
    },
  ];
  // Our facilitator once more, called in process like the references (no HTTP, no client key, no request
  // metrics): where our verify's time goes apart from the API around it. Its ledger is an empty map.
  const none: X402SettlementLedger = {
    claim: () => Promise.reject(new Error('verify only')),
    get: () => Promise.resolve(undefined),
    update: () => Promise.resolve(undefined),
    listUnfinished: () => Promise.resolve([]),
  };
  const inProcess = createFacilitator({ networks, registry: configAssetRegistry(networks), ledger: none, log: createLogger('silent'), verifyCacheMs: 0 });
  const config = loadConfig({
    env: { [FEE_PAYER_ENV]: chain.keys.feePayer },
    overrides: {
      PORT: 0,
      HOST: '127.0.0.1',
      DATA_DIR: dir,
      MQTT_ENABLED: false,
      LOG_LEVEL: 'silent',
      ADMIN_TOKEN,
      RATE_LIMIT_PER_MINUTE: 0,
      SIGNUPS_PER_HOUR: 0,
      X402_SCRYPT_N: 1024,
      X402_LOGINS_PER_MINUTE: 0,
      X402_CLIENT_REQUESTS_PER_MINUTE: 0,
      X402_NETWORKS: JSON.stringify(networks),
    },
  });
  const bridge = new Bridge(config, createLogger('silent'));
  const info = await bridge.start();
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const load: Load = startLoad();
  const base = new URL(info.url);
  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const reply = await send({ agent, base, method, path, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    return { status: reply.status, body: JSON.parse(reply.text) as Record<string, any> };
  };
  try {
    // A facilitator user and its client key.
    const email = `bench-${process.pid}@example.com`;
    await call('POST', '/x402/api/v1/signup', { email, password: 'StrongPassword123!' });
    const login = await call('POST', '/x402/api/v1/login', { email, password: 'StrongPassword123!' });
    const made = await call(
      'POST',
      '/x402/api/v1/clients',
      { title: 'bench', scope: 'verify,settle,supported' },
      { authorization: `Bearer ${login.body['data'].access_token}` },
    );
    const client = made.body['data'].client as { clientId: string; token: string };
    const auth = { 'X-Client-ID': client.clientId, 'X-Client-Token': client.token };

    const figures = await verifyPhase(
      chain,
      { token, payTo },
      (target, bodies, concurrency) =>
        load.run({
          base: target === 'ours' ? info.url : target,
          requests: bodies.map((body) =>
            target === 'ours'
              ? { method: 'POST', path: '/x402/api/v1/verify', headers: auth, body: JSON.stringify(body) }
              : { method: 'POST', path: '/verify', body: JSON.stringify(body) },
          ),
          concurrency,
          status: 200,
          // Valid, and for ours a distinct authorization never comes from the verify cache.
          expect: target === 'ours' ? { isValid: true, cachedResult: false } : { isValid: true },
        }),
      async (body) => {
        const request = parseFacilitatorRequest(body);
        if ('code' in request && !('paymentPayload' in request)) throw new Error(request.details);
        return inProcess.verify(request as never);
      },
    );
    const settles = await settlePhase(chain, { token, payTo }, (body) => call('POST', '/x402/api/v1/settle', body, auth));

    console.log(
      `\nlocal chain ${chain.chainId} (Hardhat 2, automine, in a process of its own), ${VERIFY_COUNT} distinct authorizations per round, ${CONCURRENCY} in flight, ${ROUNDS} rounds; median:`,
    );
    const ours = figures.filter((f) => f.name.startsWith('ours'));
    const refs = figures.filter((f) => !f.name.startsWith('ours'));
    for (const f of figures) {
      const busy = `event loop busy ${Math.round(median(f.busy) * 100)}%`;
      console.log(`  ${f.name.padEnd(86)} ${fmt(median(f.perSecond)).padStart(7)} verifications/s   (rounds: ${f.perSecond.map(fmt).join(', ')}; ${busy})`);
    }
    // Like for like first (the same transport and the same x402 version), then the rest, each saying what differs:
    // ours over HTTP against a reference in process pays an HTTP round trip and a client key that it does not.
    const overHttp = (f: Figure) => f.name.includes('over HTTP');
    const v2 = (f: Figure) => /\bv2\b/.test(f.name);
    const ratios = ours.flatMap((o) =>
      refs.map((r) => {
        const differs = [
          ...(overHttp(o) === overHttp(r) ? [] : [overHttp(o) ? 'ours over HTTP, the reference in process' : 'ours in process, the reference over HTTP']),
          ...(v2(o) === v2(r) ? [] : [v2(o) ? 'a v2 body against a v1 reference' : 'a v1 body against a v2 reference']),
        ];
        return { o, r, differs };
      }),
    );
    for (const { o, r, differs } of [...ratios.filter((x) => x.differs.length === 0), ...ratios.filter((x) => x.differs.length > 0)]) {
      const note = differs.length === 0 ? ' (like for like)' : ` (${differs.join('; ')})`;
      console.log(`  ${o.name.split(':')[0]} / ${r.name.split(':')[0]}: ${(median(o.perSecond) / median(r.perSecond)).toFixed(2)}x${note}`);
    }
    console.log(
      `  settle over HTTP (POST /x402/api/v1/settle, ${SETTLE_CONCURRENCY} in flight): ${fmt(settles.perSecond)} settles/s (${settles.count} settled, merchant +${settles.moved} units)`,
    );
  } finally {
    agent.destroy();
    await load.stop();
    await inProcess.stop();
    await bridge.stop();
    await chain.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

async function sign(chain: BenchChain, terms: { token: Hex; payTo: Hex }, count: number, key: Hex): Promise<SignedPayment[]> {
  const out: SignedPayment[] = [];
  for (let i = 0; i < count; i++) out.push(await signAuthorization({ key, token: terms.token, to: terms.payTo, value: PRICE }));
  return out;
}

async function verifyPhase(
  chain: BenchChain,
  terms: { token: Hex; payTo: Hex },
  overHttp: (target: 'ours' | string, bodies: unknown[], concurrency: number) => Promise<number>,
  oursInProcess: (body: unknown) => Promise<Verdict>,
): Promise<Figure[]> {
  // The references, as their own servers would set them up: v1 with a viem public client, v2 with a facilitator signer.
  const publicClient = createPublicClient({ transport: viemHttp(chain.url) });
  const feePayer = privateKeyToAccount(chain.keys.feePayer);
  const wallet = createWalletClient({ account: feePayer, chain: chain.chain as never, transport: viemHttp(chain.url) }).extend(publicActions);
  const v2Reference = new ExactEvmFacilitatorScheme(toFacilitatorEvmSigner({ ...(wallet as never as object), address: feePayer.address } as never));
  const servers: ReferenceServer[] = [];
  const requirements = { asset: terms.token, payTo: terms.payTo, amount: PRICE };

  const check = (who: string, verdict: Verdict) => {
    if (!verdict.isValid) throw new Error(`${who} refused a valid authorization: ${verdict.invalidReason}`);
  };
  const each =
    (job: (p: SignedPayment) => Promise<void>): Runner =>
    (payments, concurrency) =>
      rate(payments.length, concurrency, (n) => job(payments[n] as SignedPayment));
  const impls: [string, Runner][] = [
    [
      'ours v1: POST /x402/api/v1/verify over HTTP, + nonce check',
      (payments, concurrency) =>
        overHttp(
          'ours',
          payments.map((p) => v1Body(p, requirements)),
          concurrency,
        ),
    ],
    [
      'ours v2: POST /x402/api/v1/verify over HTTP, + nonce check',
      (payments, concurrency) =>
        overHttp(
          'ours',
          payments.map((p) => v2Body(p, requirements)),
          concurrency,
        ),
    ],
    [
      'ours in process: createFacilitator().verify, v1 body, + nonce check, empty ledger',
      each(async (p) => check('ours in process', await oursInProcess(v1Body(p, requirements)))),
    ],
    [
      'x402 1.2.0 verify (v1 reference): in process',
      each(async (p) => {
        const body = v1Body(p, requirements) as { paymentPayload: never; paymentRequirements: never };
        check('x402 v1', await referenceVerifyV1(publicClient as never, body.paymentPayload, body.paymentRequirements));
      }),
    ],
    [
      '@x402/evm 2.27 exact verify (v2 reference): in process',
      each(async (p) => {
        const body = v2Body(p, requirements) as { paymentPayload: never; paymentRequirements: never };
        check('@x402/evm', await v2Reference.verify(body.paymentPayload, body.paymentRequirements));
      }),
    ],
    [
      "x402 1.2.0 (v1 reference): its example facilitator's POST /verify over HTTP",
      (payments, concurrency) =>
        overHttp(
          (servers[0] as ReferenceServer).url,
          payments.map((p) => v1Body(p, requirements)),
          concurrency,
        ),
    ],
    [
      "@x402/evm 2.27 (v2 reference): x402Facilitator's POST /verify over HTTP",
      (payments, concurrency) =>
        overHttp(
          (servers[1] as ReferenceServer).url,
          payments.map((p) => v2Body(p, requirements)),
          concurrency,
        ),
    ],
  ];
  const figures: Figure[] = impls.map(([name]) => ({ name, perSecond: [], busy: [] }));
  // The same signed authorizations for all, fresh each round (ours would serve repeats from its cache), all signed
  // before the first round: signing makes garbage that would otherwise be collected while some implementation runs.
  const signed: SignedPayment[][] = [];
  for (let round = 1 - WARMUP_ROUNDS; round <= ROUNDS; round++) signed.push(await sign(chain, terms, VERIFY_COUNT, chain.keys.payer));
  try {
    servers.push(await serveReferenceV1(publicClient));
    servers.push(await serveReferenceV2(v2Reference, `eip155:${chain.chainId}`));
    // The first WARMUP_ROUNDS rounds warm every implementation (JIT, sockets, caches of the chain); not reported.
    for (let round = 1 - WARMUP_ROUNDS; round <= ROUNDS; round++) {
      const payments = signed[round + WARMUP_ROUNDS - 1] as SignedPayment[];
      // Each round starts one implementation later, so none always runs first (or right after another).
      for (let k = 0; k < impls.length; k++) {
        const i = (k + round + impls.length * WARMUP_ROUNDS) % impls.length;
        const runner = (impls[i] as [string, Runner])[1];
        const loop = performance.eventLoopUtilization();
        const perSecond = await runner(payments, CONCURRENCY);
        if (round > 0) figures[i]?.busy.push(performance.eventLoopUtilization(loop).utilization);
        if (round > 0) figures[i]?.perSecond.push(perSecond);
      }
    }
  } finally {
    for (const server of servers) await server.close();
  }
  return figures;
}

async function settlePhase(
  chain: BenchChain,
  terms: { token: Hex; payTo: Hex },
  ours: (body: unknown) => Promise<{ status: number; body: Record<string, any> }>,
): Promise<{ perSecond: number; count: number; moved: bigint }> {
  const payments = await sign(chain, terms, SETTLE_COUNT, chain.keys.payer2);
  const before = await chain.balanceOf(terms.payTo);
  const hashes = new Set<string>();
  const perSecond = await rate(SETTLE_COUNT, SETTLE_CONCURRENCY, async (n) => {
    const res = await ours(v2Body(payments[n] as SignedPayment, { asset: terms.token, payTo: terms.payTo, amount: PRICE }));
    if (res.body['success'] !== true) throw new Error(`settle failed: ${JSON.stringify(res.body)}`);
    hashes.add(res.body['transaction'] as string);
  });
  const moved = (await chain.balanceOf(terms.payTo)) - before;
  if (hashes.size !== SETTLE_COUNT || moved !== PRICE * BigInt(SETTLE_COUNT)) throw new Error(`settled ${hashes.size} transactions moving ${moved}`);
  return { perSecond, count: hashes.size, moved };
}

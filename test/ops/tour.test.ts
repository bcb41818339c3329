/**
 * The README's quick tour works as written: test/fixtures/tour.sh (the tour's commands, from `B=`
 * down) runs with bash, curl and jq against a fresh bridge started as `npm start` does, with the
 * ADMIN_TOKEN the reader chose and OUTBOUND_ALLOW for the local webhook receiver. Each step's answer
 * is checked: after the rotation the new key is the one in use, the admin settles the invoice whose
 * hash the tour took from the callback's answer, and the receiver verifies the paid event's delivery.
 * Needs curl and jq (`.ci/run` installs jq).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseUrl } from '../helpers/bridge.js';
import { TEST_ENGINE } from '../helpers/pg.js';
import { ROOT, startCli, type BridgeProcess, freePort } from '../helpers/process.js';
import { run } from '../helpers/run.js';

const ADMIN = 'tour-admin-token-0123456789abcdef';
const SCRIPT = join(ROOT, 'test/fixtures/tour.sh');

let dir: string;
let bridge: BridgeProcess;
let out = { code: null as number | null, stdout: '', stderr: '' };
/** The JSON answers the tour printed, in order, and the receiver's log it printed at the end. */
let answers: any[] = [];
let receiverLog = '';

/** Run the tour with bash in `cwd`, in a process group of its own (killed whole on a timeout). */
function tour(cwd: string, env: Record<string, string>, timeoutMs: number): Promise<typeof out> {
  return new Promise((resolve) => {
    const child = spawn('bash', [SCRIPT], {
      cwd,
      env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? cwd, ...env },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => process.kill(-(child.pid as number), 'SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      // Anything the tour left running in its group (a receiver, should it fail half-way) goes too.
      try {
        process.kill(-(child.pid as number), 'SIGKILL');
      } catch {
        // The group is gone already.
      }
      resolve({ code, stdout, stderr });
    });
  });
}

/** Split concatenated JSON documents (jq's output) into values; stops at the first non-JSON text. */
function jsonStream(text: string): { values: unknown[]; rest: string } {
  const values: unknown[] = [];
  let i = 0;
  for (;;) {
    while (i < text.length && /\s/.test(text[i] as string)) i++;
    if (i >= text.length || !'[{"'.includes(text[i] as string)) return { values, rest: text.slice(i) };
    let depth = 0;
    let inString = false;
    let j = i;
    for (; j < text.length; j++) {
      const c = text[j];
      if (inString) {
        if (c === '\\') j++;
        else if (c === '"') inString = false;
      } else if (c === '"') inString = true;
      else if (c === '{' || c === '[') depth++;
      else if (c === '}' || c === ']') {
        depth--;
        if (depth === 0) break;
      }
    }
    values.push(JSON.parse(text.slice(i, j + 1)));
    i = j + 1;
  }
}

beforeAll(async () => {
  for (const tool of ['curl', 'jq']) {
    const found = await run('bash', ['-c', `command -v ${tool}`], 5_000);
    if (found.code !== 0) throw new Error(`${tool} is not installed: the README's tour needs it (apt-get install ${tool}, as .ci/run does)`);
  }
  dir = await mkdtemp(join(tmpdir(), 'paywire-tour-'));
  // The reader runs the tour in the repository (npm finds the webhook-receiver script there): a
  // directory that looks like it, so the tour's files (the PDF, the QR code, webhooks.log) land here.
  const cwd = join(dir, 'repo');
  await run('mkdir', ['-p', cwd]);
  for (const entry of ['package.json', 'node_modules', 'tools']) await symlink(join(ROOT, entry), join(cwd, entry));
  // In the `postgres` project the same tour runs with DATABASE_URL set, as the README says it may.
  const database = TEST_ENGINE === 'postgres' ? { DATABASE_URL: await testDatabaseUrl(dir) } : {};
  bridge = await startCli({
    PORT: '0',
    HOST: '127.0.0.1',
    MQTT_PORT: '0',
    DATA_DIR: join(dir, 'data'),
    ADMIN_TOKEN: ADMIN,
    OUTBOUND_ALLOW: '127.0.0.1',
    ...database,
  });
  out = await tour(cwd, { B: bridge.url, HOOK_PORT: String(await freePort()), ADMIN_TOKEN: ADMIN }, 60_000);
  // jq's answers, then (step 12) the receiver's log, then the delivery list.
  const parsed = jsonStream(out.stdout);
  const last = parsed.rest.lastIndexOf('\n{\n  "deliveries"');
  receiverLog = last === -1 ? parsed.rest : parsed.rest.slice(0, last + 1);
  answers = [...parsed.values, ...(last === -1 ? [] : jsonStream(parsed.rest.slice(last)).values)];
}, 90_000);

afterAll(async () => {
  bridge?.child.kill('SIGTERM');
  await bridge?.exited;
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the README tour (test/fixtures/tour.sh)', () => {
  it('runs to the end', () => {
    expect(out.code, `${out.stderr}\n${out.stdout}`).toBe(0);
  });

  it('answers each step as the README says', async () => {
    const [
      signup,
      me,
      asset,
      event,
      events,
      webhook,
      publicKey,
      readKey,
      session,
      meAfterRotation,
      paths,
      link,
      payRequest,
      invoice,
      settled,
      verify,
      payments,
      deliveries,
    ] = answers;
    expect(answers).toHaveLength(18);
    // 1-3: the account, who it is, the machine.
    expect(signup).toMatchObject({ username: 'my-coffee-bot', api_key: expect.stringMatching(/^lib_[0-9a-f]{64}$/) });
    expect(me).toMatchObject({ user_id: signup.user_id, key_scope: 'full' });
    expect(asset).toMatchObject({ name: 'Coffee machine', price_sats: 1500, duration_ms: 5000 });
    // 4: the machine's report, listed.
    expect(event).toMatchObject({ type: 'action', asset_id: asset.asset_id, external_id: 'vend-0001' });
    expect(events.events.map((e: any) => e.event_id)).toContain(event.event_id);
    // 5: the webhook at the local receiver, and the key it verifies with.
    expect(webhook).toMatchObject({ url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/$/), events: ['paid', 'error'] });
    expect(publicKey).toMatchObject({ algorithm: 'ed25519', public_key: expect.stringMatching(/^whpk_/) });
    // 6: a read-only key and a session.
    expect(readKey).toMatchObject({ scope: 'read', api_key: expect.stringMatching(/^lib_/) });
    expect(session).toMatchObject({ token: expect.any(String), expires_in: 86_400 });
    // 7: after the rotation the tour carries on with the new key.
    expect(meAfterRotation).toMatchObject({ user_id: signup.user_id });
    expect(meAfterRotation.api_key_prefix).not.toBe(me.api_key_prefix);
    // 8: the PDF was saved, OpenAPI listed its paths.
    expect(paths).toContain('/api/v1/accounts');
    expect(paths).toContain('/lnurl/pay/{link_id}');
    expect((await readFile(join(dir, 'repo', 'paywire-api.pdf'))).subarray(0, 5).toString('latin1')).toBe('%PDF-');
    // 9-10: the link, its QR code, the payRequest and an invoice.
    expect(link).toMatchObject({ asset_id: asset.asset_id, url: expect.stringMatching(new RegExp(`^${bridge.url.replace(/[.]/g, '\\.')}/lnurl/pay/`)) });
    expect((await stat(join(dir, 'repo', 'coffee-qr.png'))).size).toBeGreaterThan(100);
    expect(payRequest).toMatchObject({ tag: 'payRequest', minSendable: 1_500_000, maxSendable: 1_500_000 });
    expect(invoice).toMatchObject({ pr: expect.stringMatching(/^lnbcrt/), verify: expect.stringMatching(/\/lnurl\/verify\/[0-9a-f]{64}$/) });
    // 11: the admin settled it; verify and the payments list say so.
    expect(settled).toMatchObject({ status: 'settled', amount_sats: 1500, already_settled: false, payment_hash: invoice.verify.split('/').pop() });
    expect(verify).toMatchObject({ status: 'OK', settled: true, preimage: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(payments.payments[0]).toMatchObject({ payment_id: settled.payment_id, status: 'settled' });
    // 12: the receiver verified the delivery; the bridge lists it.
    expect(deliveries.deliveries[0]).toMatchObject({ event_id: expect.any(String) });
    expect(['pending', 'delivered']).toContain(deliveries.deliveries[0].status);
  });

  it('has the local receiver verify and print the paid event\u2019s signed delivery', () => {
    expect(receiverLog).toMatch(/^paywire webhook receiver listening on http:\/\/127\.0\.0\.1:\d+\/ \(key [0-9a-f]{16} from http:\/\/127\.0\.0\.1:\d+\)\n/);
    expect(receiverLog).toMatch(/\nverified event\.paid msg_\S+\n\{\n {2}"type": "event\.paid"/);
  });
});

/**
 * The command a Pi runs: `device/dist/device/cli.js`, compiled here with `tsc -p
 * device/tsconfig.build.json` and run with plain `node` (no TypeScript at run time): `--help`, a bad
 * config listing every problem (exit 2), `--check` of a good config and its license key.
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/process.js';
import { QR, stateDir } from './helpers.js';

const run = promisify(execFile);
const CLI = join(ROOT, 'device/dist/device/cli.js');

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { cwd: ROOT, env: { PATH: process.env['PATH'] ?? '' } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('paywire-device (compiled)', () => {
  beforeAll(async () => {
    await run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'device/tsconfig.build.json')], { cwd: ROOT });
  }, 60_000);

  it('prints its usage', async () => {
    const r = await cli(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('usage: paywire-device --config');
  });

  it('refuses a bad config with every problem listed, exit 2', async () => {
    const dir = await stateDir();
    await writeFile(
      join(dir, 'bad.json'),
      JSON.stringify({ account_id: 'a b', mqtt: { url: 'ftp://x' }, assets: [{ asset_id: 'x', qr: '', relay: { type: 'gpio' } }] }),
    );
    const r = await cli(['--config', join(dir, 'bad.json')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('invalid device config:');
    for (const path of ['account_id:', 'mqtt.url:', 'assets.0.qr:', 'assets.0.relay.line:', 'assets.0.login:']) expect(r.stderr).toContain(`  - ${path}`);
    expect((await cli(['--config', join(dir, 'missing.json')])).stderr).toContain('cannot read (ENOENT)');
    expect((await cli([])).code).toBe(2);
  });

  it('--check validates a good config and exits 0', async () => {
    const dir = await stateDir();
    const config = {
      account_id: 'u1',
      mqtt: { url: 'mqtt://127.0.0.1:1' },
      assets: [{ asset_id: 'a1', qr: QR, relay: { type: 'console' }, login: { username: 'dev_x', password: 'dpw_y' } }],
    };
    await writeFile(join(dir, 'ok.json'), JSON.stringify(config));
    const r = await cli(['--config', join(dir, 'ok.json'), '--check']);
    expect(r).toMatchObject({ code: 0, stdout: 'config ok: 1 asset(s)\n' });
  });
});

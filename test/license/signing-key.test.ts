/**
 * The signing key's life: generated on first start into DATA_DIR (mode 0600), the same after a restart
 * (keys issued before still validate, licenses and seats kept), taken from LICENSE_SIGNING_KEY when set,
 * and a start refused when the file is gone beside a store holding licenses. And the per-IP rate limit
 * of the validate path, answering 429 in the family's shape.
 */
import { mkdtemp, rm, stat, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LicenseSigner } from '../../bridge/license/keys.js';
import { SIGNING_KEY_FILE } from '../../bridge/license/signing-key.js';
import { startLicenseBridge } from './helpers.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('the license signing key', () => {
  it('is generated 0600 on first start and kept across restarts with the licenses and seats', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'paywire-license-key-'));
    dirs.push(dataDir);
    const first = await startLicenseBridge({}, { dataDir });
    const pem = (await first.request('GET', '/license/v1/pubkey')).body.public_key_pem;
    await first.product('kept');
    const lic = await first.issue('kept');
    expect((await first.validate({ key: lic.license_key, fingerprint: 'box' })).ok).toBe(true);
    await first.stop();
    expect((await stat(join(dataDir, SIGNING_KEY_FILE))).mode & 0o777).toBe(0o600);

    const second = await startLicenseBridge({}, { dataDir });
    expect((await second.request('GET', '/license/v1/pubkey')).body.public_key_pem).toBe(pem);
    expect((await second.validate({ key: lic.license_key, fingerprint: 'box' })).ok).toBe(true);
    expect(await second.validate({ key: lic.license_key, fingerprint: 'other' })).toEqual({ ok: false, reason: 'fingerprint_mismatch' });
    await second.stop();

    await unlink(join(dataDir, SIGNING_KEY_FILE));
    await expect(startLicenseBridge({}, { dataDir })).rejects.toThrow(/license-signing-key.pem is missing while the store holds licenses/);
  });

  it('comes from LICENSE_SIGNING_KEY when set (PEM or hex)', async () => {
    const seed = new Uint8Array(32).fill(3);
    const want = new LicenseSigner(seed).publicKeyPem;
    for (const value of [Buffer.from(seed).toString('hex'), LicenseSigner.pemFromSeed(seed)]) {
      const t = await startLicenseBridge({ LICENSE_SIGNING_KEY: value });
      expect((await t.request('GET', '/license/').then((r) => r.body)).public_key_pem).toBe(want);
      await t.close();
    }
    await expect(startLicenseBridge({ LICENSE_SIGNING_KEY: 'not a key' })).rejects.toThrow(/LICENSE_SIGNING_KEY must be an Ed25519 private key/);
  });
});

describe('the validate rate limit', () => {
  it('answers 429 rate_limited in the family shape past LICENSE_VALIDATE_PER_MINUTE per IP', async () => {
    const t = await startLicenseBridge({ LICENSE_VALIDATE_PER_MINUTE: 5 });
    try {
      const answers = [];
      for (let i = 0; i < 7; i++) answers.push(await t.request('POST', '/license/v1/validate', { body: { key: 'LIC1-X-Y' } }));
      expect(answers.slice(0, 5).map((a) => [a.status, a.body.reason])).toEqual(Array(5).fill([200, 'bad_format']));
      const refused = answers[6]!;
      expect(refused.status).toBe(429);
      expect(refused.body).toEqual({ ok: false, error: 'rate_limited', message: expect.stringContaining('retry after') });
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      // Other routes are not limited by it.
      expect((await t.request('GET', '/license/healthz')).status).toBe(200);
    } finally {
      await t.close();
    }
  });
});

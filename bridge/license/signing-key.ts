/**
 * The license signing key: from config (`LICENSE_SIGNING_KEY`: a PKCS #8 PEM or the 32-byte seed in
 * hex), else `DATA_DIR/license-signing-key.pem` (mode 0600), generated on first start. Every key ever
 * issued verifies only under it, so a missing file beside a store holding licenses refuses the start
 * instead of making a new one (restore it from a backup).
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { readFileIfExists, writeFileDurably } from '../store/durable-file.js';
import { tightenFile } from '../store/file-modes.js';
import { LicenseSigner } from './keys.js';

export const SIGNING_KEY_FILE = 'license-signing-key.pem';

/** The seed of a configured key (PEM or 64 hex digits), or why it is not one. */
export function parseSigningKey(text: string): { seed: Uint8Array } | { error: string } {
  const s = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(s)) return { seed: new Uint8Array(Buffer.from(s, 'hex')) };
  try {
    return { seed: LicenseSigner.seedFromPem(s.replaceAll('\\n', '\n')) };
  } catch {
    return { error: 'must be an Ed25519 private key: PKCS #8 PEM or 64 hex digits (the seed)' };
  }
}

export async function loadSigningKey(options: {
  dataDir: string;
  configured: string | undefined;
  /** The store already holds licenses signed by some key. */
  storeHasLicenses: boolean;
  log?: Logger;
}): Promise<LicenseSigner> {
  if (options.configured !== undefined) {
    const parsed = parseSigningKey(options.configured);
    if ('error' in parsed) throw new Error(`LICENSE_SIGNING_KEY ${parsed.error}`);
    return new LicenseSigner(parsed.seed);
  }
  const path = join(options.dataDir, SIGNING_KEY_FILE);
  const text = await readFileIfExists(path);
  if (text !== undefined) {
    await tightenFile(path, options.log);
    const parsed = parseSigningKey(text);
    if ('error' in parsed)
      throw new Error(`${path} ${parsed.error}: every license key issued verifies only under it, so it is not replaced; restore it from a backup`);
    return new LicenseSigner(parsed.seed);
  }
  if (options.storeHasLicenses) {
    throw new Error(`${path} is missing while the store holds licenses signed by it: restore it from a backup (or set LICENSE_SIGNING_KEY)`);
  }
  const seed = randomBytes(32);
  await writeFileDurably(path, LicenseSigner.pemFromSeed(seed));
  options.log?.info({ path }, 'generated the license signing key');
  return new LicenseSigner(seed);
}

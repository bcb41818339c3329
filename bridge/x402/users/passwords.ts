/**
 * Password hashes for the facilitator's users: scrypt (RFC 7914) from `node:crypto`, run on libuv's
 * thread pool so a hash never blocks the event loop. Stored as `scrypt$N$r$p$<salt b64>$<hash b64>`,
 * so a hash made with an older cost still verifies after X402_SCRYPT_N changes. Compared in constant
 * time. A login for an unknown email still runs one scrypt (against a dummy hash), so the answer's
 * timing does not tell which emails exist.
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

const KEY_BYTES = 32;
const SALT_BYTES = 16;
const R = 8;
const P = 1;

function derive(password: string, salt: Buffer, options: ScryptOptions & { N: number; r: number; p: number }): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // maxmem: scrypt needs 128 * N * r bytes; leave room above it.
    scrypt(password.normalize('NFC'), salt, KEY_BYTES, { ...options, maxmem: 256 * options.N * options.r }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

export class PasswordHasher {
  private readonly n: number;
  private dummy: Promise<string> | undefined;

  /** `n`: the scrypt cost, a power of two (X402_SCRYPT_N). */
  constructor(n: number) {
    this.n = n;
  }

  async hash(password: string): Promise<string> {
    const salt = randomBytes(SALT_BYTES);
    const key = await derive(password, salt, { N: this.n, r: R, p: P });
    return `scrypt$${this.n}$${R}$${P}$${salt.toString('base64')}$${key.toString('base64')}`;
  }

  /** Whether `password` matches `stored`; a malformed stored hash never matches. */
  async verify(password: string, stored: string): Promise<boolean> {
    const parts = stored.split('$');
    if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
    const [n, r, p] = [Number(parts[1]), Number(parts[2]), Number(parts[3])];
    if (![n, r, p].every((v) => Number.isSafeInteger(v) && v > 0) || n > 1 << 20 || r > 32 || p > 16) return false;
    const salt = Buffer.from(parts[4] as string, 'base64');
    const expected = Buffer.from(parts[5] as string, 'base64');
    if (expected.length !== KEY_BYTES) return false;
    const key = await derive(password, salt, { N: n, r, p });
    return timingSafeEqual(key, expected);
  }

  /** Spend one hash's time for a login whose email is unknown, and answer no. */
  async verifyNothing(password: string): Promise<false> {
    this.dummy ??= this.hash(randomBytes(16).toString('hex'));
    await this.verify(password, await this.dummy);
    return false;
  }
}

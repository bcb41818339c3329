/**
 * Whether this daemon may vend: the `LIC1-` key checked offline at start (signature, expiry, product,
 * fingerprint), then the bridge's answers on `…/license` (retained, re-sent on revoke or suspend).
 * A bad key or a refusal stops vending and says why on the displays; `not_available` (a bridge
 * without a license server) leaves the offline verdict standing.
 */
import { EventEmitter } from 'node:events';
import type { LicenseMessage } from '../../broker/topics.js';
import { checkLic1Offline, parsePublicKey, type Lic1License } from './lic1.js';

export interface LicenseSettings {
  key: string;
  public_key: string;
  product_id?: string | undefined;
  fingerprint?: string | undefined;
  online: boolean;
}

export interface Verdict {
  ok: boolean;
  /** A keysat reason (`revoked`, `bad_signature`, …) when not ok. */
  reason?: string;
  /** What the display says when vending is stopped. */
  message?: string;
  source: 'none' | 'offline' | 'online';
}

const SCREEN: Record<string, string> = {
  bad_format: 'License key invalid',
  bad_signature: 'License key invalid',
  bad_public_key: 'License public key invalid',
  expired: 'License expired',
  product_mismatch: 'License is for another product',
  fingerprint_mismatch: 'License is for another machine',
  revoked: 'License revoked',
  suspended: 'License suspended',
  not_found: 'License unknown',
  too_many_machines: 'License: too many machines',
};

export function screenText(reason: string): string {
  return `${SCREEN[reason] ?? `License refused (${reason.slice(0, 32)})`} - vending stopped`;
}

export class LicenseGuard extends EventEmitter<{ change: [Verdict] }> {
  private current: Verdict = { ok: true, source: 'none' };
  private offline: Verdict = { ok: true, source: 'none' };
  license: Lic1License | undefined;

  constructor(readonly settings: LicenseSettings | undefined) {
    super();
    // One listener per asset's machine: up to 200.
    this.setMaxListeners(0);
  }

  get verdict(): Verdict {
    return this.current;
  }

  get allowed(): boolean {
    return this.current.ok;
  }

  /** The offline check, at start. */
  checkOffline(now = Date.now()): Verdict {
    this.offline = this.checkKey(now);
    return this.set(this.offline);
  }

  private checkKey(now: number): Verdict {
    const s = this.settings;
    if (!s) return { ok: true, source: 'none' };
    let publicKey: Uint8Array;
    try {
      const text = s.public_key.trim();
      // PEM (SPKI), or the 32 raw bytes as 64 hex digits.
      publicKey = parsePublicKey(/^[0-9a-f]{64}$/i.test(text) ? Uint8Array.from(Buffer.from(text, 'hex')) : text);
    } catch {
      return { ok: false, reason: 'bad_public_key', message: screenText('bad_public_key'), source: 'offline' };
    }
    const result = checkLic1Offline(s.key, publicKey, { productUuid: s.product_id, fingerprint: s.fingerprint, now: Math.floor(now / 1000) });
    if (!result.ok) return { ok: false, reason: result.reason, message: screenText(result.reason), source: 'offline' };
    this.license = result.license;
    return { ok: true, source: 'offline' };
  }

  /** An answer from the bridge on `…/license`. */
  online(message: LicenseMessage): Verdict {
    if (message.ok) {
      // The server vouches for the key; an offline failure (a bad signature, say) still stands.
      return this.set(this.offline.ok ? { ok: true, source: 'online' } : this.offline);
    }
    if (message.reason === 'not_available') return this.current;
    return this.set({ ok: false, reason: message.reason, message: screenText(message.reason), source: 'online' });
  }

  private set(v: Verdict): Verdict {
    const changed = v.ok !== this.current.ok || v.reason !== this.current.reason;
    this.current = v;
    if (changed) this.emit('change', v);
    return v;
  }
}

/**
 * Whether this daemon may vend: the `LIC1-` key checked offline at start (signature, expiry, product,
 * fingerprint), then the bridge's answers on `…/license` (retained, re-sent on revoke or suspend).
 * A bad key or a refusal stops vending and says why on the displays; `not_available` (a bridge
 * without a license server) leaves the offline verdict standing.
 */
import { EventEmitter } from 'node:events';
import type { LicenseMessage } from '../../broker/topics.js';
import { publicKeyBytes, verifyKey, type LicensePayload } from './lic1.js';

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
  payload: LicensePayload | undefined;

  constructor(readonly settings: LicenseSettings | undefined) {
    super();
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
      publicKey = publicKeyBytes(s.public_key);
    } catch {
      return { ok: false, reason: 'bad_public_key', message: screenText('bad_public_key'), source: 'offline' };
    }
    const result = verifyKey(s.key, publicKey, { productUuid: s.product_id, fingerprint: s.fingerprint, now });
    if (!result.ok) return { ok: false, reason: result.reason, message: screenText(result.reason), source: 'offline' };
    this.payload = result.payload;
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

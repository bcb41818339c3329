/**
 * Licenses on devices over MQTT. A device publishes `…/license/request` (`{request_id, key,
 * fingerprint?}`); the answer is `POST /v1/validate`'s for that key and fingerprint, with the
 * request_id, published retained on `…/license` (the dispatcher's license-request handler publishes
 * what `answer` returns). Each asset's latest request is remembered as its binding to a license, so
 * when the license's standing changes (revoked, suspended, reinstated: license-core's `onChanged`) or
 * it expires (a timer at its expiry), the answer is worked out again and re-published, retained, to
 * every asset bound to it, before the admin call returns (or within the timer's tick).
 * Bindings live in memory like the broker's retained messages (which a restart forgets too: a device
 * asks again when it reconnects), at most one per asset and `maxBindings` in all.
 */
import type { Logger } from 'pino';
import type { Broker } from '../../broker/broker.js';
import type { LicenseMessage, LicenseRequestMessage } from '../../broker/topics.js';
import { decodeLic1 } from '../../device/license/lic1.js';
import { sendToAsset } from '../devices/publish.js';
import type { LicenseAnswerer } from '../devices/handlers/license-request.js';
import type { EventBus } from '../events.js';
import type { PurchaseMetrics } from './purchase-metrics.js';
import type { LicenseService } from './service.js';
import type { LicenseChange, ValidateAnswer } from './types.js';

interface Binding {
  userId: string;
  assetId: string;
  licenseId: string;
  request: LicenseRequestMessage;
  /** Bumped by every new request: a re-publish started before it is dropped. */
  seq: number;
  /** The payload last published, to skip re-publishing the same answer. */
  last: string | undefined;
  expiry: NodeJS.Timeout | undefined;
}

export interface DeviceLicensesOptions {
  licenses: LicenseService;
  bus: EventBus;
  log: Logger;
  republished?: PurchaseMetrics | undefined;
  /** Bindings kept at most (the oldest is forgotten first). */
  maxBindings?: number;
}

/** Reasons that name a real license of ours (the key verified): the device stays bound to it. */
const BINDING_REASONS = new Set(['revoked', 'suspended', 'expired', 'product_mismatch', 'fingerprint_mismatch', 'too_many_machines']);
/** setTimeout's longest delay (about 24.8 days): a later expiry is re-armed from there. */
const MAX_TIMER_MS = 2 ** 31 - 1;
const EXPIRY_MARGIN_MS = 20;

export class DeviceLicenses {
  private readonly options: DeviceLicensesOptions;
  private readonly maxBindings: number;
  private broker: Broker | undefined;
  private readonly byAsset = new Map<string, Binding>();
  private readonly byLicense = new Map<string, Set<string>>();
  private unsubscribe: (() => void) | undefined;
  private seq = 0;

  constructor(options: DeviceLicensesOptions) {
    this.options = options;
    this.maxBindings = options.maxBindings ?? 100_000;
  }

  /** The dispatcher's answerer for `license/request`. */
  readonly answer: LicenseAnswerer = async (userId, assetId, request) => {
    const seq = ++this.seq;
    const answer = await this.validate(request);
    this.bind(userId, assetId, request, answer, seq);
    return answer;
  };

  start(broker: Broker | undefined): void {
    this.broker = broker;
    this.unsubscribe = this.options.licenses.onChanged((change) => this.changed(change));
    this.options.bus.on('asset.changed', this, ({ asset, deleted }) => {
      if (deleted) this.unbind(key(asset.user_id, asset.asset_id));
    });
  }

  stop(): void {
    this.unsubscribe?.();
    this.options.bus.off(this);
    for (const binding of this.byAsset.values()) clearTimeout(binding.expiry);
    this.byAsset.clear();
    this.byLicense.clear();
  }

  /** How many assets are bound to licenses (for tests and metrics). */
  get size(): number {
    return this.byAsset.size;
  }

  private async validate(request: LicenseRequestMessage): Promise<LicenseMessage> {
    const answer: ValidateAnswer = await this.options.licenses.validate({
      key: request.key,
      ...(request.fingerprint === undefined ? {} : { fingerprint: request.fingerprint }),
    });
    return { request_id: request.request_id, ...answer };
  }

  private bind(userId: string, assetId: string, request: LicenseRequestMessage, answer: LicenseMessage, seq: number): void {
    const id = key(userId, assetId);
    const licenseId = answer.ok ? answer.license_id : BINDING_REASONS.has(answer.reason) ? licenseIdOf(request.key) : undefined;
    const existing = this.byAsset.get(id);
    if (existing && existing.seq > seq) return; // a later request already answered
    this.unbind(id);
    if (licenseId === undefined) return;
    if (this.byAsset.size >= this.maxBindings) {
      const oldest = this.byAsset.keys().next().value;
      if (oldest !== undefined) this.unbind(oldest);
    }
    const binding: Binding = { userId, assetId, licenseId, request, seq, last: JSON.stringify(answer), expiry: undefined };
    this.byAsset.set(id, binding);
    let assets = this.byLicense.get(licenseId);
    if (!assets) {
      assets = new Set();
      this.byLicense.set(licenseId, assets);
    }
    assets.add(id);
    if (answer.ok && answer.expires_at) this.armExpiry(binding, Date.parse(answer.expires_at));
  }

  private unbind(id: string): void {
    const binding = this.byAsset.get(id);
    if (!binding) return;
    clearTimeout(binding.expiry);
    this.byAsset.delete(id);
    const assets = this.byLicense.get(binding.licenseId);
    assets?.delete(id);
    if (assets?.size === 0) this.byLicense.delete(binding.licenseId);
  }

  /** keysat: a license expires at its expires_at; the answer is re-published then. */
  private armExpiry(binding: Binding, at: number): void {
    // A few milliseconds past it, so the validation the timer makes sees it expired.
    const delay = Math.max(0, at - Date.now()) + EXPIRY_MARGIN_MS;
    binding.expiry = setTimeout(
      () => {
        if (this.byAsset.get(key(binding.userId, binding.assetId)) !== binding) return;
        if (delay >= MAX_TIMER_MS) return this.armExpiry(binding, at);
        void this.republish(binding, 'expired');
      },
      Math.min(delay, MAX_TIMER_MS),
    );
    binding.expiry.unref();
  }

  private async changed(change: LicenseChange): Promise<void> {
    const assets = [...(this.byLicense.get(change.license_id) ?? [])];
    await Promise.all(
      assets.map((id) => {
        const binding = this.byAsset.get(id);
        return binding ? this.republish(binding, change.change) : undefined;
      }),
    );
  }

  /** Work the bound request's answer out again and publish it, retained, when it changed. */
  private async republish(binding: Binding, why: string): Promise<void> {
    const broker = this.broker;
    if (!broker) return;
    try {
      const seq = binding.seq;
      const answer = await this.validate(binding.request);
      const current = this.byAsset.get(key(binding.userId, binding.assetId));
      if (current !== binding || binding.seq !== seq) return; // a newer request answered meanwhile
      clearTimeout(binding.expiry);
      binding.expiry = undefined;
      if (answer.ok && answer.expires_at) this.armExpiry(binding, Date.parse(answer.expires_at));
      const payload = JSON.stringify(answer);
      if (payload === binding.last) return;
      binding.last = payload;
      await sendToAsset(broker, binding.userId, binding.assetId, 'license', answer);
      this.options.republished?.republished.inc({ why });
      this.options.log.info({ userId: binding.userId, assetId: binding.assetId, licenseId: binding.licenseId, why }, 'license answer re-published');
    } catch (err) {
      this.options.log.error({ err, assetId: binding.assetId, licenseId: binding.licenseId }, 're-publishing a license answer failed');
    }
  }
}

function key(userId: string, assetId: string): string {
  return `${userId}/${assetId}`;
}

/** The license UUID a well-formed key names (its signature was checked by validate). */
function licenseIdOf(text: string): string | undefined {
  try {
    return decodeLic1(text).license.licenseUuid;
  } catch {
    return undefined;
  }
}

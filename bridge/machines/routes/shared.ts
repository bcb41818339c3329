/** What the machine-payments routes share: their dependencies and the shown-once warning. The generic REST kit is in `bridge/http/`. */
import type { AuthDeps } from '../../http/auth.js';
import type { RateLimiter } from '../../http/rate-limit.js';
import type { WebhookSigner } from '../../webhooks/signing.js';
import type { AccountsService } from '../accounts.js';
import type { AssetsService } from '../assets.js';
import type { EventLog } from '../event-log.js';
import type { DeviceStateView } from '../views.js';
import type { WebhooksService } from '../webhooks.js';

export interface MachinesDeps extends AuthDeps {
  accounts: AccountsService;
  assets: AssetsService;
  events: EventLog;
  webhooks: WebhooksService;
  signer: WebhookSigner;
  /** Per client IP, for signups. */
  signupLimiter: RateLimiter;
  /** Whether each asset's device is online (the MQTT broker's knowledge). */
  deviceStates: { view(assetId: string): Promise<DeviceStateView> };
}

export const SHOWN_ONCE = 'Store this api_key now: it is shown once and cannot be recovered.';

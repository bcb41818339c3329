/**
 * MQTT logins: who a username/password pair at CONNECT is. A username `dev_<id>` is a device
 * credential (one asset); any other is an account's `user_id`, with one of its live API keys as the
 * password. Refused logins are logged and counted by `refused-logins.ts`.
 */
import type { Logger } from 'pino';
import type { ClientIdentity } from '../../broker/acl.js';
import type { BrokerAuthenticator } from '../../broker/broker.js';
import type { AuthService } from '../machines/auth.js';
import type { Metrics } from '../metrics.js';
import { DEVICE_USERNAME_PREFIX, type DeviceCredentials } from './credentials.js';
import { RefusedLogins } from './refused-logins.js';

export interface MqttLoginsOptions {
  auth: AuthService;
  credentials: DeviceCredentials;
  /** Where refused logins are logged (at warn, rate limited per client address). */
  log: Logger;
  metrics: Metrics;
}

export class MqttLogins implements BrokerAuthenticator {
  private readonly options: MqttLoginsOptions;
  private readonly refusedLogins: RefusedLogins;

  constructor(options: MqttLoginsOptions) {
    this.options = options;
    this.refusedLogins = new RefusedLogins(options.log, options.metrics);
  }

  /** The identity behind a username/password pair, or undefined when they do not match. */
  async authenticate(username: string, password: string): Promise<ClientIdentity | undefined> {
    if (username.startsWith(DEVICE_USERNAME_PREFIX)) return this.options.credentials.authenticate(username, password);
    const found = await this.options.auth.findLiveKey(password);
    return found && found.account.user_id === username ? { userId: username, scope: found.key.scope, credentialId: found.key.key_id } : undefined;
  }

  /** The broker refused a login (no credentials, or wrong ones). */
  refused(address: string, username: string | undefined, reason: 'anonymous' | 'bad_credentials'): void {
    this.refusedLogins.refused(address, username, reason);
  }
}

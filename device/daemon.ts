/**
 * The daemon's composition root: from one validated config, the ledger, the license guard, the
 * outputs and, per asset, its MQTT connection and its machine. `start()` and `stop()`; nothing runs
 * at import. Tests and the benchmark pass hardware seams (mock ports, mock Firmata, a fake GPIO).
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { AssetLink } from './client.js';
import type { DeviceConfig } from './config.js';
import { Ledger } from './ledger.js';
import { LicenseGuard } from './license/guard.js';
import { AssetMachine } from './machine.js';
import { OutputFactory, type HardwareSeams } from './outputs/build.js';

export interface Unit {
  machine: AssetMachine;
  link: AssetLink;
}

export class Daemon {
  readonly units = new Map<string, Unit>();
  readonly license: LicenseGuard;
  private ledger: Ledger | undefined;

  constructor(
    private readonly config: DeviceConfig,
    private readonly log: Logger,
    private readonly seams: HardwareSeams = {},
  ) {
    this.license = new LicenseGuard(config.license);
  }

  async start(): Promise<void> {
    const c = this.config;
    const verdict = this.license.checkOffline();
    if (c.license)
      this.log.info(
        { license: verdict, license_id: this.license.license?.licenseUuid },
        verdict.ok ? 'license key valid (offline check)' : 'license key refused: vending stopped',
      );
    const ledger = Ledger.open(c.state_dir, c.remember_payments);
    this.ledger = ledger;
    const outputs = new OutputFactory(this.log, this.seams);
    for (const asset of c.assets) {
      const { relay, displays } = outputs.forAsset(asset);
      let link: AssetLink | undefined;
      const machine = new AssetMachine({
        asset,
        relay,
        displays,
        ledger,
        license: this.license,
        maxQueue: c.max_queue,
        log: this.log,
        report: (m) => (link ? link.report(m) : Promise.reject(new Error('not connected'))),
        overflow: () => link?.drop(),
      });
      const login = asset.login ?? { username: c.mqtt.username ?? '', password: c.mqtt.password ?? '' };
      link = new AssetLink(
        {
          url: c.mqtt.url,
          username: login.username,
          password: login.password,
          clientId: `${c.mqtt.client_id_prefix}-${asset.asset_id}`,
          keepaliveS: c.mqtt.keepalive_s,
          reconnectMinMs: c.mqtt.reconnect_min_ms,
          reconnectMaxMs: c.mqtt.reconnect_max_ms,
          accountId: c.account_id,
          assetId: asset.asset_id,
        },
        {
          message: async (topic, payload, arrivedAt) => {
            if (topic === 'payment') await machine.onPayment(payload, arrivedAt);
            else if (topic === 'action/set') await machine.onTrigger(payload);
            else machine.onLicense(payload);
          },
          connected: () => {
            const l = c.license;
            if (l?.online && link) {
              link
                .requestLicense({
                  request_id: `${asset.asset_id}-${randomBytes(6).toString('hex')}`,
                  key: l.key,
                  ...(l.fingerprint ? { fingerprint: l.fingerprint } : {}),
                })
                .catch((err: Error) => this.log.warn({ asset_id: asset.asset_id, err: err.message }, 'license request not sent'));
            }
          },
        },
        this.log,
      );
      this.units.set(asset.asset_id, { machine, link });
    }
    // Outputs first (the QR is up), then the connections, then what the last run left unfinished.
    await Promise.all([...this.units.values()].map((u) => u.machine.start()));
    await Promise.all([...this.units.values()].map((u) => u.link.start()));
    // Reports of what the last run left go out on the connections (queued by the client while offline).
    for (const u of this.units.values()) u.machine.resume();
    this.log.info({ assets: c.assets.length, remembered: ledger.size }, 'paywire-device running');
  }

  async stop(): Promise<void> {
    await Promise.all([...this.units.values()].map((u) => u.link.stop()));
    await Promise.all([...this.units.values()].map((u) => u.machine.stop()));
    this.ledger?.close();
    this.log.info('paywire-device stopped');
  }
}

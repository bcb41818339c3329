/**
 * The composition root: builds every component from one Config and starts and stops them in order.
 * Nothing here runs on import; `cli.ts` is the process entry point, tests call `Bridge` directly.
 * Start: store → services → HTTP server → MQTT broker → dispatcher → stats and Home Assistant discovery →
 * webhook sender → settlement.
 * Stop: the reverse, so nothing is taken in that cannot be finished.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Router } from '@koa/router';
import type { Logger } from 'pino';
import pkg from '../package.json' with { type: 'json' };
import { Broker } from '../broker/broker.js';
import { createApp } from './app.js';
import type { Config } from './config.js';
import { BitcoinSwitches, BitcoinSwitchIds } from './devices/bitcoinswitch.js';
import { DeviceCredentials } from './devices/credentials.js';
import { Dispatcher } from './devices/dispatch.js';
import { HomeAssistant } from './devices/homeassistant.js';
import { MqttLogins } from './devices/login.js';
import { deviceRoutes } from './devices/routes.js';
import { DeviceStates } from './devices/state.js';
import { EventBus } from './events.js';
import { Outbound } from './http/outbound.js';
import { OutboundAllow } from './http/ssrf.js';
import { RateLimiter } from './http/rate-limit.js';
import { DeviceLicenses } from './license/device-licenses.js';
import { licenseFamily } from './license/family.js';
import { purchaseRoutes } from './license/purchase-routes.js';
import { PurchaseMetrics } from './license/purchase-metrics.js';
import { Purchases } from './license/purchases.js';
import { LicenseMetrics } from './license/metrics.js';
import { LicenseService } from './license/service.js';
import { loadSigningKey } from './license/signing-key.js';
import { BACKEND_SPECS } from './lightning/backends/index.js';
import { DevBackend } from './lightning/backends/dev.js';
import { btcpayWebhookRoutes } from './lightning/btcpay-webhook.js';
import { lightningAddressFamily, lnurlFamily } from './lightning/family.js';
import { PaymentLinks, type DeviceStateSource } from './lightning/links.js';
import { lightningRoutes } from './lightning/routes.js';
import { Settlement } from './lightning/settlement.js';
import { Wallets } from './lightning/wallets.js';
import { AccountsService } from './machines/accounts.js';
import { AssetsService } from './machines/assets.js';
import { AuthService } from './machines/auth.js';
import { EventLog } from './machines/event-log.js';
import { machinesFamily } from './machines/family.js';
import { Metrics } from './metrics.js';
import { metricsFamily } from './http/metrics-family.js';
import { docsRoutes } from './docs/routes.js';
import type { MachinesDeps } from './machines/routes/shared.js';
import { WebhooksService } from './machines/webhooks.js';
import { Sealer } from './sealer.js';
import { loadSecrets } from './secrets.js';
import { ensurePrivateDir } from './store/file-modes.js';
import { openStores, type Stores } from './store/stores.js';
import { PublicUrls } from './urls.js';
import { WebhookSender } from './webhooks/sender.js';
import { WebhookSigner } from './webhooks/signing.js';
import { createAgentSales } from './x402/agents/index.js';
import { composeX402, type X402Parts } from './x402/compose.js';
import { createFacilitator } from './x402/facilitator.js';
import { x402Family } from './x402/family.js';
import type { AssetRegistry, Facilitator } from './x402/types.js';
import { parseFacilitatorRequest } from './x402/wire.js';

export const VERSION: string = pkg.version;

export interface BridgeInfo {
  /** Base URL of the HTTP server as bound (e.g. http://127.0.0.1:41234). */
  url: string;
  httpPort: number;
  /** The embedded broker's port, or undefined when MQTT is disabled. */
  mqttPort: number | undefined;
  publicUrl: string;
  /** The admin token, only on the start that generated it. */
  generatedAdminToken: string | undefined;
}

export interface BridgeOptions {
  /** A component failed in a way only a restart mends (the store could not write). */
  onFatal?: (err: Error) => void;
  /** Overrides the broker's view of which devices are online (tests of the Lightning rail). */
  deviceState?: DeviceStateSource;
  /** Replaces the x402 facilitator (only the routing tests of its failure answers use it). */
  x402Facilitator?: (registry: AssetRegistry) => Facilitator;
  /** Extra routes on the license family's router (benchmarks and embedders). */
  licenseRoutes?: ((router: Router) => void)[];
}

interface Running {
  stores: Stores;
  server: Server;
  broker: Broker | undefined;
  dispatcher: Dispatcher | undefined;
  homeAssistant: HomeAssistant | undefined;
  switches: BitcoinSwitches;
  sender: WebhookSender;
  settlement: Settlement;
  bus: EventBus;
  metrics: Metrics;
  x402: X402Parts;
  license: LicenseService;
  purchases: Purchases;
  deviceLicenses: DeviceLicenses;
}

export class Bridge {
  readonly config: Config;
  private readonly log: Logger;
  private readonly options: BridgeOptions;
  private running: Running | undefined;

  constructor(config: Config, log: Logger, options: BridgeOptions = {}) {
    this.config = config;
    this.log = log;
    this.options = options;
  }

  async start(): Promise<BridgeInfo> {
    if (this.running) throw new Error('bridge already started');
    const { config, log } = this;
    await ensurePrivateDir(config.dataDir, log);

    const metrics = new Metrics();

    // Stores: the embedded journal, or PostgreSQL when DATABASE_URL is set.
    const stores = await openStores(config, log, { onFatal: this.options.onFatal, onCommitted: (seconds) => metrics.committed(seconds) });
    const { machines: store, lightning: lightningStore, devices: devicesStore } = stores;
    const secrets = await loadSecrets(config.dataDir, config.adminToken, { storeHasData: await stores.hasData(), log }).catch(async (err: unknown) => {
      await stores.close();
      throw err;
    });
    // The license server's signing key: every key it issued verifies only under it.
    const licenseSigner = await loadSigningKey({
      dataDir: config.dataDir,
      configured: config.licenseSigningKey,
      storeHasLicenses: await stores.license.hasLicenses(),
      log,
    }).catch(async (err: unknown) => {
      await stores.close();
      throw err;
    });

    // Every request to a URL a tenant chose (webhooks, wallets, Lightning addresses) goes through it.
    const outboundOptions = {
      metrics,
      log: log.child({ component: 'outbound' }),
      maxBodyBytes: config.outboundMaxBodyBytes,
      maxLineBytes: config.outboundMaxLineBytes,
    };
    const outbound = new Outbound({ ...outboundOptions, allow: config.outboundAllow });
    // The server's default backend is the operator's choice, not a tenant's: its host is reachable even
    // when private (a LNbits on the LAN), for the server default only; tenants' wallets still are not.
    const defaultHost = backendHost(config.lightning.settings['url']);
    const serverOutbound =
      defaultHost === undefined ? outbound : new Outbound({ ...outboundOptions, allow: OutboundAllow.with(config.outboundAllow, defaultHost) });

    // Machine payments.
    const bus = new EventBus(log.child({ component: 'bus' }));
    const signer = await WebhookSigner.create(secrets.webhookSigningSeed);
    const auth = new AuthService(store, secrets.sessionSecret);
    const assets = new AssetsService(store, bus, { maxAssetsPerAccount: config.maxAssetsPerAccount, metrics });
    const events = new EventLog(store, assets, bus);
    const states = new DeviceStates(devicesStore, log.child({ component: 'devices' }));
    const deps: MachinesDeps = {
      auth,
      accounts: new AccountsService(store, auth, bus, { maxKeysPerAccount: config.maxKeysPerAccount, metrics }),
      assets,
      events,
      webhooks: new WebhooksService(store, outbound),
      signer,
      keyLimiter: new RateLimiter(config.rateLimitPerMinute, 60_000),
      accountLimiter: new RateLimiter(config.rateLimitPerAccountPerMinute, 60_000),
      signupLimiter: new RateLimiter(config.signupsPerHour, 3_600_000),
      metrics,
      deviceStates: states,
    };
    const sender = new WebhookSender(store, bus, signer, log.child({ component: 'webhooks' }), {
      timeoutMs: config.webhookTimeoutMs,
      retryScheduleMs: config.webhookRetryScheduleMs,
      concurrency: config.webhookConcurrency,
      perAccount: config.webhookAccountConcurrency,
      userAgent: `paywire-webhooks/${VERSION}`,
      outbound,
      metrics,
    });

    // The Lightning rail.
    const urls = new PublicUrls(config.publicUrl, config.prefixes.lnurl);
    const dev = config.lightning.kind === 'dev' ? new DevBackend(secrets.devNodeKey, lightningStore) : undefined;
    const wallets = new Wallets({
      store: lightningStore,
      sealer: new Sealer(secrets.walletSealingKey),
      specs: BACKEND_SPECS,
      dev,
      serverDefault: config.lightning,
      timeoutMs: config.lightningTimeoutMs,
      outbound,
      serverOutbound,
      log: log.child({ component: 'wallets' }),
    });
    const settlement = new Settlement({
      store: lightningStore,
      machines: store,
      events,
      bus,
      wallets,
      log: log.child({ component: 'settlement' }),
      metrics,
      pollMs: config.lightningPollMs,
    });
    const links = new PaymentLinks({
      store: lightningStore,
      machines: store,
      assets,
      wallets,
      settlement,
      urls,
      deviceState: this.options.deviceState ?? states,
      invoiceExpirySeconds: config.invoiceExpirySeconds,
    });

    // The license server.
    const license = new LicenseService({
      store: stores.license,
      signer: licenseSigner,
      log: log.child({ component: 'license' }),
      seatReclaimSeconds: config.licenseSeatReclaimSeconds,
      metrics: new LicenseMetrics(metrics),
    });
    const licenseDeps = {
      service: license,
      adminTokenSha256: secrets.adminTokenSha256,
      validateLimiter: new RateLimiter(config.licenseValidatePerMinute, 60_000),
      operator: config.licenseOperator,
      version: VERSION,
      metrics,
    };
    // License purchases (settled like asset payments, for the LICENSE_VENDOR_ACCOUNT), and licenses on devices.
    const purchaseMetrics = new PurchaseMetrics(metrics);
    const purchases = new Purchases({
      licenses: license,
      payments: lightningStore,
      machines: store,
      wallets,
      settlement,
      bus,
      pollBase: () => `${urls.base}${config.prefixes.license}`,
      vendor: config.licenseVendorAccount,
      invoiceExpirySeconds: config.invoiceExpirySeconds,
      log: log.child({ component: 'license-purchases' }),
      metrics: purchaseMetrics,
    });
    const deviceLicenses = new DeviceLicenses({
      licenses: license,
      bus,
      log: log.child({ component: 'license-devices' }),
      republished: purchaseMetrics,
    });
    const licenseRoutes: ((router: Router) => void)[] = [
      purchaseRoutes({
        purchases,
        store: lightningStore,
        wallets,
        settlement,
        log: log.child({ component: 'license-btcpay-webhook' }),
        ipLimiter: new RateLimiter(config.licensePurchasesPerMinute, 60_000),
        productLimiter: new RateLimiter(config.licensePurchasesPerProductPerMinute, 60_000),
        metrics,
      }),
      ...(this.options.licenseRoutes ?? []),
    ];

    // The machines' side: MQTT logins, the broker and the dispatcher that speaks the topic contract.
    const credentials = new DeviceCredentials(devicesStore, assets, bus, { maxPerAsset: config.maxDeviceCredentialsPerAsset, metrics });
    const logins = new MqttLogins({ auth, credentials, log: log.child({ component: 'broker' }), metrics });
    const broker = config.mqttEnabled
      ? new Broker({
          host: config.host,
          port: config.mqttPort,
          portExplicit: config.mqttPortExplicit,
          log: log.child({ component: 'broker' }),
          metrics,
          trustProxy: config.trustProxy,
          onLoginRefused: (address, username, reason) => logins.refused(address, username, reason),
          limits: {
            connections: config.mqttMaxConnections,
            pendingPerAddress: config.mqttMaxPendingPerAddress,
            connectionsPerAccount: config.mqttMaxConnectionsPerAccount,
            connectionsPerCredential: config.mqttMaxConnectionsPerCredential,
            subscriptionsPerClient: config.mqttMaxSubscriptionsPerClient,
            queuedPerSession: config.mqttMaxQueuedPerSession,
            queuedBytesPerSession: config.mqttMaxQueuedBytesPerSession,
            sessionsPerAccount: config.mqttMaxSessionsPerAccount,
            retainedMaxBytes: config.mqttRetainedMaxBytes,
          },
          auth: logins,
        })
      : undefined;
    const dispatcher = broker
      ? new Dispatcher({
          broker,
          bus,
          payments: lightningStore,
          events,
          machines: store,
          states,
          log: log.child({ component: 'dispatch' }),
          messagesPerMinute: config.rateLimitPerMinute,
          license: deviceLicenses.answer,
          replayWindowMs: config.paymentReplayHours * 3_600_000,
          metrics,
        })
      : undefined;
    // Sales stats on `…/stats`, and Home Assistant discovery when HOMEASSISTANT_DISCOVERY is on.
    const homeAssistant = broker
      ? new HomeAssistant({
          broker,
          bus,
          machines: store,
          payments: lightningStore,
          log: log.child({ component: 'homeassistant' }),
          discovery: config.homeAssistantDiscovery,
          version: VERSION,
        })
      : undefined;

    // The x402 facilitator: its users, client keys, resources and metrics over its store, the
    // facilitator over the token registry (config tokens and POST /admin/assets).
    const x402 = composeX402({
      config,
      store: stores.x402,
      machines: store,
      accounts: deps.accounts,
      sessionSecret: secrets.sessionSecret,
      adminTokenSha256: secrets.adminTokenSha256,
      networks: config.x402Networks,
      facilitator:
        this.options.x402Facilitator ??
        ((registry, hooks) =>
          createFacilitator({
            networks: config.x402Networks,
            registry,
            ledger: stores.x402Settlements,
            log: log.child({ component: 'x402' }),
            metrics,
            onSettled: hooks.onSettled,
            onFailed: hooks.onFailed,
          })),
      parse: parseFacilitatorRequest,
      signupLimiter: deps.signupLimiter,
      metrics,
      log: log.child({ component: 'x402' }),
      version: VERSION,
    });

    // Machines that agents buy over x402 (GET /api/v1/assets/{id}/x402): EVM through the facilitator in process, and Lightning.
    const agentSales = createAgentSales({
      machines: store,
      payments: lightningStore,
      settlement,
      events,
      wallets,
      deviceState: this.options.deviceState ?? states,
      facilitator: x402.deps.facilitator,
      ledger: stores.x402Settlements,
      registry: x402.registry,
      networks: config.x402Networks,
      publicBase: () => `${urls.base}${config.prefixes.machines}`,
      invoiceExpirySeconds: config.invoiceExpirySeconds,
      invoicesPerAssetPerMinute: config.lnurlInvoicesPerAssetPerMinute,
      requestsPerAddressPerMinute: config.lnurlCallbacksPerMinute,
      log: log.child({ component: 'x402-agents' }),
      metrics,
    });

    // LNbits bitcoinSwitch hardware, unmodified: its WebSocket on the HTTP server, with or without the broker.
    const switchIds = new BitcoinSwitchIds(secrets.sessionSecret);
    const switches = new BitcoinSwitches({
      ids: switchIds,
      devices: devicesStore,
      machines: store,
      payments: lightningStore,
      bus,
      log: log.child({ component: 'bitcoinswitch' }),
      replayWindowMs: config.paymentReplayHours * 3_600_000,
      maxConnections: config.mqttMaxConnections,
      metrics,
    });

    // HTTP: every family, mounted at its prefix.
    const limit = config.bodyLimitBytes;
    const lnurl = { links, bodyLimitBytes: limit, log };
    const machinesRoutes = [
      docsRoutes(config, urls),
      lightningRoutes(deps, { links, wallets, settlement, dev, adminTokenSha256: secrets.adminTokenSha256 }),
      btcpayWebhookRoutes({ store: lightningStore, wallets, settlement, log: log.child({ component: 'btcpay-webhook' }) }),
      deviceRoutes(deps, { credentials, dispatcher, states, urls, mqttPort: () => broker?.port, bitcoinSwitch: (c) => switchIds.deviceString(urls, c) }),
      agentSales.routes,
    ];
    const app = createApp(
      [
        { name: 'machines', prefix: config.prefixes.machines, middleware: machinesFamily(deps, { bodyLimitBytes: limit, log, extend: machinesRoutes }) },
        { name: 'x402', prefix: config.prefixes.x402, middleware: x402Family(x402.deps, { bodyLimitBytes: limit, log }) },
        { name: 'license', prefix: config.prefixes.license, middleware: licenseFamily(licenseDeps, { bodyLimitBytes: limit, log, extend: licenseRoutes }) },
        {
          name: 'lnurl',
          prefix: config.prefixes.lnurl,
          middleware: lnurlFamily({
            ...lnurl,
            callbackLimiter: new RateLimiter(config.lnurlCallbacksPerMinute, 60_000),
            assetInvoiceLimiter: new RateLimiter(config.lnurlInvoicesPerAssetPerMinute, 60_000),
            metrics,
          }),
        },
        { name: 'lightning-address', prefix: '/.well-known/lnurlp', middleware: lightningAddressFamily(lnurl) },
        { name: 'metrics', prefix: '/metrics', middleware: metricsFamily(metrics, { adminTokenSha256: secrets.adminTokenSha256, bodyLimitBytes: limit, log }) },
      ],
      { trustProxy: config.trustProxy, log: log.child({ component: 'http' }), metrics },
    );
    // Figures read when /metrics is scraped.
    metrics.observe({
      mqttClients: () => broker?.connectedClients ?? 0,
      outbox: () => lightningStore.outboxDepth?.() ?? 0,
      webhookPending: async () => (await store.pendingDeliveries()).length,
      bitcoinSwitches: () => switches.connected,
    });
    const server = createServer(
      {
        headersTimeout: config.httpHeadersTimeoutMs,
        requestTimeout: config.httpRequestTimeoutMs,
        // Node looks for connections past these deadlines only every connectionsCheckingInterval
        // (30 s by default), so a 10 s headers timeout closed a slow client after up to 40 s: look
        // often enough that a deadline holds to within a quarter of itself (at most a second late).
        connectionsCheckingInterval: Math.max(50, Math.min(1_000, Math.floor(config.httpHeadersTimeoutMs / 4))),
      },
      app.callback(),
    );
    server.keepAliveTimeout = 5_000;
    broker?.attachWebSocket(server, BitcoinSwitches.claims);
    switches.attach(server, !broker);

    this.running = { stores, server, broker, dispatcher, homeAssistant, switches, sender, settlement, bus, metrics, x402, license, purchases, deviceLicenses };
    try {
      await x402.start();
      const httpPort = await new Promise<number>((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.port, config.host, () => {
          server.off('error', reject);
          resolve((server.address() as AddressInfo).port);
        });
      });
      urls.bind(config.host, httpPort);
      const mqttPort = broker ? await broker.start() : undefined;
      await dispatcher?.start();
      await homeAssistant?.start();
      switches.start();
      await sender.start();
      deviceLicenses.start(broker);
      // Before the settlement's first poll, so every purchase it settles is heard.
      purchases.start();
      settlement.start();
      license.start();
      const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
      log.info(
        {
          http: `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${httpPort}`,
          mqttPort: mqttPort ?? null,
          publicUrl: urls.base,
          dataDir: config.dataDir,
          version: VERSION,
        },
        'paywire bridge listening',
      );
      return {
        url: `http://${host.includes(':') ? `[${host}]` : host}:${httpPort}`,
        httpPort,
        mqttPort,
        publicUrl: urls.base,
        generatedAdminToken: secrets.generatedAdminToken,
      };
    } catch (err) {
      await this.stop().catch(() => undefined);
      throw err instanceof Error && (err as NodeJS.ErrnoException).code === 'EADDRINUSE'
        ? new Error(`PORT ${config.port} is already in use: stop the other server or choose another PORT`)
        : err;
    }
  }

  /** The running bridge's event bus (for embedders and tests that listen to payments). */
  get bus(): EventBus {
    if (!this.running) throw new Error('bridge is not running');
    return this.running.bus;
  }

  /** The running bridge's license service (tests, and the MQTT side that re-publishes answers). */
  get license(): LicenseService {
    if (!this.running) throw new Error('bridge is not running');
    return this.running.license;
  }

  /** The running bridge's metrics registry (tests read the counters directly). */
  get metrics(): Metrics {
    if (!this.running) throw new Error('bridge is not running');
    return this.running.metrics;
  }

  /** The running bridge's embedded broker, when MQTT is on (the device tests and bench publish through it). */
  get broker(): Broker | undefined {
    if (!this.running) throw new Error('bridge is not running');
    return this.running.broker;
  }

  /** Stop in reverse order: no new requests, let in-flight ones finish, then the store. */
  async stop(): Promise<void> {
    const running = this.running;
    if (!running) return;
    this.running = undefined;
    const started = Date.now();
    // What was still open when the stop began, for the "stopped" line.
    const drained = {
      httpConnections: await new Promise<number>((resolve) => running.server.getConnections((err, count) => resolve(err ? 0 : count))),
      mqttClients: running.broker?.connectedClients ?? 0,
      forcedHttpClose: false,
    };
    const closed = new Promise<void>((resolve) => running.server.close(() => resolve()));
    running.server.closeIdleConnections();
    const grace = setTimeout(() => {
      drained.forcedHttpClose = true;
      running.server.closeAllConnections();
    }, 5_000);
    // MQTT clients (WebSocket ones too) hold connections the HTTP server waits for: close them first.
    await running.homeAssistant?.stop();
    await running.dispatcher?.stop();
    await running.switches.stop();
    await running.broker?.stop();
    await closed;
    clearTimeout(grace);
    await running.x402.stop();
    await running.settlement.stop();
    await running.purchases.stop();
    running.deviceLicenses.stop();
    await running.license.stop();
    await running.sender.stop();
    running.bus.off(running.sender);
    await running.stores.close();
    this.log.info({ ...drained, ms: Date.now() - started }, 'stopped');
  }
}

/** The host of the default backend's URL (brackets of an IPv6 literal removed), if it has one. */
function backendHost(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  try {
    return new URL(url).hostname.replace(/^\[|\]$/g, '') || undefined;
  } catch {
    return undefined;
  }
}

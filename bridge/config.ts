/**
 * The one validated configuration object. Built once at start from defaults, an optional JSON
 * config file (`PAYWIRE_CONFIG` or `--config <file>`, keys named as the environment variables) and
 * the environment, in that order of precedence (environment wins). Every problem is reported at once.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { z } from 'zod';
import { DEFAULT_MQTT_LIMITS } from '../broker/limits.js';
import { PaywireError } from './errors.js';
import { OutboundAllow } from './http/ssrf.js';
import type { BackendChoice } from './lightning/wallets.js';
import { BACKEND_SPECS } from './lightning/backends/index.js';
import { BACKEND_KINDS, type BackendKind } from './lightning/types.js';
import { parseNetworks, type X402NetworkConfig } from './x402/evm/networks.js';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
/** `auto`: human-readable lines when stdout is a terminal, JSON lines otherwise. */
export type LogFormat = 'auto' | 'json' | 'pretty';

export interface Config {
  /** HTTP port (0 = any free port). */
  port: number;
  host: string;
  /** Embedded MQTT broker TCP port (0 = any free port). */
  mqttPort: number;
  /** False when MQTT_PORT was left at its default: the bridge may then move to a free port nearby. */
  mqttPortExplicit: boolean;
  mqttEnabled: boolean;
  dataDir: string;
  /** Static admin token; when unset one is generated on first start and printed once. */
  adminToken: string | undefined;
  /** Public base URL (LNURLs, poll URLs); defaults to http://localhost:<port>. No trailing slash. */
  publicUrl: string | undefined;
  logLevel: LogLevel;
  logFormat: LogFormat;
  /** Trust X-Forwarded-For / X-Forwarded-Proto from a reverse proxy. */
  trustProxy: boolean;
  prefixes: { machines: string; x402: string; license: string; lnurl: string };
  rateLimitPerMinute: number;
  /** Requests per minute of all an account's keys together (default twice the per-key limit). */
  rateLimitPerAccountPerMinute: number;
  /** Live API keys an account may hold at once. */
  maxKeysPerAccount: number;
  /** Live assets an account may hold at once. */
  maxAssetsPerAccount: number;
  /** Live device credentials (MQTT logins) an asset may have at once. */
  maxDeviceCredentialsPerAsset: number;
  signupsPerHour: number;
  bodyLimitBytes: number;
  webhookTimeoutMs: number;
  webhookRetryScheduleMs: number[];
  webhookConcurrency: number;
  /** Webhook deliveries of one account in flight at once (the rest wait their turn, round-robin). */
  webhookAccountConcurrency: number;
  /** Host names and IP ranges tenant-chosen URLs may reach although private (SSRF guard). */
  outboundAllow: OutboundAllow;
  /** Largest response body read from a tenant-chosen server. */
  outboundMaxBodyBytes: number;
  /** Longest line of a stream from a tenant-chosen server (LND's invoice stream). */
  outboundMaxLineBytes: number;
  /** fdatasync every journal commit (turn off only for throwaway data). */
  journalFsync: boolean;
  /** Compact the journal when its log exceeds this many bytes (and the snapshot's size). */
  journalCompactBytes: number;
  /** PostgreSQL (`postgres://…`) instead of the embedded journal; undefined = the journal. */
  databaseUrl: string | undefined;
  /** PostgreSQL connections at most. */
  databasePoolSize: number;
  /** The server's default Lightning backend and its settings (accounts may choose their own). */
  lightning: BackendChoice;
  invoiceExpirySeconds: number;
  lightningPollMs: number;
  lightningTimeoutMs: number;
  lnurlCallbacksPerMinute: number;
  /** Invoices per minute for one asset, whoever asks: many addresses cannot pile up pending invoices. */
  lnurlInvoicesPerAssetPerMinute: number;
  /** How far back undelivered payments are sent again to a machine that subscribes. */
  paymentReplayHours: number;
  /** Publish Home Assistant MQTT discovery for each asset. */
  homeAssistantDiscovery: boolean;
  /** A request's headers must arrive within this time (slow clients are closed). */
  httpHeadersTimeoutMs: number;
  /** A whole request, headers and body, must arrive within this time. */
  httpRequestTimeoutMs: number;
  /** The embedded broker's caps (`broker/limits.ts`). */
  mqttMaxConnections: number;
  mqttMaxConnectionsPerAccount: number;
  mqttMaxConnectionsPerCredential: number;
  mqttMaxSubscriptionsPerClient: number;
  mqttMaxQueuedPerSession: number;
  mqttMaxQueuedBytesPerSession: number;
  mqttMaxSessionsPerAccount: number;
  mqttRetainedMaxBytes: number;
  mqttMaxPendingPerAddress: number;
  /** scrypt cost N of the x402 facilitator's password hashes (r = 8, p = 1). */
  x402ScryptN: number;
  x402AccessTokenTtlSeconds: number;
  x402RefreshTokenTtlSeconds: number;
  /** x402 logins per minute per client IP. */
  x402LoginsPerMinute: number;
  x402MaxClientsPerUser: number;
  x402MaxResourcesPerUser: number;
  /** Requests per minute per x402 client key on /verify, /settle and /supported. */
  x402ClientRequestsPerMinute: number;
  /** The x402 facilitator's EVM networks (none: no active network). Fee payer keys stay in their environment variables. */
  x402Networks: X402NetworkConfig[];
  /** The license signing key (PKCS #8 PEM or the seed in hex); undefined = DATA_DIR/license-signing-key.pem. */
  licenseSigningKey: string | undefined;
  /** The operator named in the license server's `GET /` metadata. */
  licenseOperator: string;
  /** `POST /v1/validate` requests per minute per client IP (0 = unlimited). */
  licenseValidatePerMinute: number;
  /** A license seat idle (no validation) this long may be taken by another machine (0 = never). */
  licenseSeatReclaimSeconds: number;
  /** Username (or id) of the account that sells licenses: its wallet makes purchase invoices, its event log gets their `paid` events. */
  licenseVendorAccount: string | undefined;
  /** `POST /v1/purchase` per client IP per minute (0 = unlimited): each makes an invoice and a pending payment. */
  licensePurchasesPerMinute: number;
  /** Purchases of one product per minute, whoever asks (0 = unlimited): pending invoices cannot pile up. */
  licensePurchasesPerProductPerMinute: number;
}

type Parser<T> = (raw: unknown) => { value: T } | { error: string };

interface Setting<K extends keyof Config = keyof Config> {
  name: string;
  key: K;
  default: Config[K];
  parse: Parser<Config[K]>;
  doc: string;
}

const text = (raw: unknown): string | undefined =>
  typeof raw === 'string' ? raw.trim() : typeof raw === 'number' || typeof raw === 'boolean' ? String(raw) : undefined;

const int =
  (min: number, max: number): Parser<number> =>
  (raw) => {
    const s = text(raw);
    if (s === undefined || !/^-?\d+$/.test(s)) return { error: `must be an integer from ${min} to ${max}` };
    const n = Number(s);
    return n >= min && n <= max ? { value: n } : { error: `must be an integer from ${min} to ${max}, got ${s}` };
  };

const bool: Parser<boolean> = (raw) => {
  const s = text(raw)?.toLowerCase();
  if (s === 'true' || s === '1' || s === 'yes' || s === 'on') return { value: true };
  if (s === 'false' || s === '0' || s === 'no' || s === 'off') return { value: false };
  return { error: 'must be true or false' };
};

const powerOfTwo =
  (min: number, max: number): Parser<number> =>
  (raw) => {
    const parsed = int(min, max)(raw);
    if ('error' in parsed) return parsed;
    return (parsed.value & (parsed.value - 1)) === 0 ? parsed : { error: `must be a power of two from ${min} to ${max}` };
  };

const optionalInt =
  (min: number, max: number): Parser<number | undefined> =>
  (raw) =>
    text(raw) === '' ? { value: undefined } : int(min, max)(raw);

const nonEmpty: Parser<string> = (raw) => {
  const s = text(raw);
  return s ? { value: s } : { error: 'must be a non-empty string' };
};

const optionalSecret: Parser<string | undefined> = (raw) => {
  const s = text(raw);
  if (s === undefined || s === '') return { value: undefined };
  return s.length >= 16 ? { value: s } : { error: 'must be at least 16 characters' };
};

const optionalText: Parser<string | undefined> = (raw) => {
  const s = text(raw);
  return s === undefined || s === '' ? { value: undefined } : { value: s };
};

const optionalUrl: Parser<string | undefined> = (raw) => {
  const s = text(raw);
  if (s === undefined || s === '') return { value: undefined };
  try {
    const url = new URL(s);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return { error: 'must be an http(s) URL' };
    if (url.search || url.hash) return { error: 'must not have a query or fragment' };
    return { value: url.toString().replace(/\/+$/, '') };
  } catch {
    return { error: `must be an absolute http(s) URL, got ${JSON.stringify(s)}` };
  }
};

const databaseUrl: Parser<string | undefined> = (raw) => {
  const s = text(raw);
  if (s === undefined || s === '') return { value: undefined };
  try {
    const url = new URL(s);
    return url.protocol === 'postgres:' || url.protocol === 'postgresql:' ? { value: s } : { error: 'must be a postgres:// URL' };
  } catch {
    // Never echo it: it may hold a password.
    return { error: 'must be a postgres:// URL' };
  }
};

const prefix: Parser<string> = (raw) => {
  const s = text(raw);
  if (s === undefined) return { error: 'must be a path prefix like /x402, or empty' };
  if (s === '' || s === '/') return { value: '' };
  return /^\/[A-Za-z0-9._~-]+(\/[A-Za-z0-9._~-]+)*$/.test(s) ? { value: s } : { error: `must be a path prefix like /x402, or empty, got ${JSON.stringify(s)}` };
};

const level: Parser<LogLevel> = (raw) => {
  const s = text(raw)?.toLowerCase();
  const levels: LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
  return levels.includes(s as LogLevel) ? { value: s as LogLevel } : { error: `must be one of ${levels.join(', ')}` };
};

const logFormat: Parser<LogFormat> = (raw) => {
  const s = text(raw)?.toLowerCase();
  const formats: LogFormat[] = ['auto', 'json', 'pretty'];
  return formats.includes(s as LogFormat) ? { value: s as LogFormat } : { error: `must be one of ${formats.join(', ')}` };
};

const backendKind: Parser<BackendKind> = (raw) => {
  const s = text(raw)?.toLowerCase();
  return BACKEND_KINDS.includes(s as BackendKind) ? { value: s as BackendKind } : { error: `must be one of ${BACKEND_KINDS.join(', ')}` };
};

const allowList: Parser<OutboundAllow> = (raw) => {
  const s = Array.isArray(raw) ? raw.map((p) => text(p) ?? '') : text(raw);
  return s === undefined ? { error: 'must be a comma-separated list of host names and IP ranges' } : OutboundAllow.parse(s);
};

const msList: Parser<number[]> = (raw) => {
  const parts = Array.isArray(raw) ? raw.map((p) => text(p) ?? '') : (text(raw) ?? '').split(',').map((p) => p.trim());
  if (parts.length === 0 || parts.some((p) => !/^\d+$/.test(p) || Number(p) > 7 * 86_400_000)) {
    return { error: 'must be a comma-separated list of delays in milliseconds' };
  }
  return { value: parts.map(Number) };
};

/** Every setting, with its environment name. The README's configuration table mirrors this list. */
export const SETTINGS: Setting[] = [
  { name: 'PORT', key: 'port', default: 3000, parse: int(0, 65535), doc: 'HTTP port (0 picks a free port)' },
  { name: 'HOST', key: 'host', default: '0.0.0.0', parse: nonEmpty, doc: 'HTTP and MQTT bind address' },
  { name: 'MQTT_PORT', key: 'mqttPort', default: 1883, parse: int(0, 65535), doc: 'embedded MQTT broker port' },
  { name: 'MQTT_ENABLED', key: 'mqttEnabled', default: true, parse: bool, doc: 'start the embedded MQTT broker' },
  { name: 'DATA_DIR', key: 'dataDir', default: './data', parse: nonEmpty, doc: 'where the store and secrets live' },
  { name: 'ADMIN_TOKEN', key: 'adminToken', default: undefined, parse: optionalSecret, doc: 'static admin token (generated and printed once when unset)' },
  {
    name: 'PUBLIC_URL',
    key: 'publicUrl',
    default: undefined,
    parse: optionalUrl,
    doc: 'public base URL used in LNURLs and links (default http://localhost:PORT)',
  },
  { name: 'LOG_LEVEL', key: 'logLevel', default: 'info', parse: level, doc: 'fatal, error, warn, info, debug, trace or silent' },
  {
    name: 'LOG_FORMAT',
    key: 'logFormat',
    default: 'auto',
    parse: logFormat,
    doc: 'json, pretty (one human-readable line per entry) or auto (pretty when stdout is a terminal)',
  },
  {
    name: 'TRUST_PROXY',
    key: 'trustProxy',
    default: false,
    parse: bool,
    doc: 'trust X-Forwarded-* headers from one reverse proxy (the client is the last X-Forwarded-For entry)',
  },
  { name: 'RATE_LIMIT_PER_MINUTE', key: 'rateLimitPerMinute', default: 60, parse: int(0, 1_000_000), doc: 'requests per minute per API key (0 = unlimited)' },
  {
    name: 'RATE_LIMIT_PER_ACCOUNT_PER_MINUTE',
    key: 'rateLimitPerAccountPerMinute',
    default: undefined,
    parse: optionalInt(0, 1_000_000),
    doc: "requests per minute of all an account's keys together (default twice RATE_LIMIT_PER_MINUTE; 0 = unlimited)",
  },
  { name: 'MAX_KEYS_PER_ACCOUNT', key: 'maxKeysPerAccount', default: 10, parse: int(1, 10_000), doc: 'live API keys an account may hold at once' },
  { name: 'MAX_ASSETS_PER_ACCOUNT', key: 'maxAssetsPerAccount', default: 2_000, parse: int(1, 1_000_000), doc: 'live assets an account may hold at once' },
  {
    name: 'MAX_DEVICE_CREDENTIALS_PER_ASSET',
    key: 'maxDeviceCredentialsPerAsset',
    default: 10,
    parse: int(1, 10_000),
    doc: 'live device credentials (MQTT logins) an asset may have at once',
  },
  { name: 'SIGNUPS_PER_HOUR', key: 'signupsPerHour', default: 5, parse: int(0, 1_000_000), doc: 'account signups per hour per IP (0 = unlimited)' },
  { name: 'BODY_LIMIT_BYTES', key: 'bodyLimitBytes', default: 65_536, parse: int(1024, 16_777_216), doc: 'largest accepted JSON body' },
  { name: 'WEBHOOK_TIMEOUT_MS', key: 'webhookTimeoutMs', default: 10_000, parse: int(100, 120_000), doc: 'outbound webhook request timeout' },
  {
    name: 'WEBHOOK_RETRY_SCHEDULE_MS',
    key: 'webhookRetryScheduleMs',
    default: [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 50_400_000, 72_000_000, 86_400_000],
    parse: msList,
    doc: 'delays before each webhook retry (Standard Webhooks schedule: 5 s … 24 h)',
  },
  { name: 'WEBHOOK_CONCURRENCY', key: 'webhookConcurrency', default: 8, parse: int(1, 256), doc: 'webhook deliveries in flight at once' },
  {
    name: 'WEBHOOK_ACCOUNT_CONCURRENCY',
    key: 'webhookAccountConcurrency',
    default: 2,
    parse: int(1, 256),
    doc: 'webhook deliveries of one account in flight at once (accounts take turns)',
  },
  {
    name: 'OUTBOUND_ALLOW',
    key: 'outboundAllow',
    default: OutboundAllow.none,
    parse: allowList,
    doc: 'host names (lnbits.lan, *.lan) and IP ranges (192.168.1.0/24) that webhooks, wallets and Lightning addresses may reach although private; empty = public addresses only',
  },
  {
    name: 'OUTBOUND_MAX_BODY_BYTES',
    key: 'outboundMaxBodyBytes',
    default: 1_048_576,
    parse: int(1024, 67_108_864),
    doc: 'largest response read from a webhook, wallet or Lightning-address server',
  },
  {
    name: 'OUTBOUND_MAX_LINE_BYTES',
    key: 'outboundMaxLineBytes',
    default: 65_536,
    parse: int(1024, 16_777_216),
    doc: "longest line of a wallet's stream (LND invoices); a longer one drops the stream",
  },
  { name: 'JOURNAL_FSYNC', key: 'journalFsync', default: true, parse: bool, doc: 'fdatasync each store commit before answering' },
  { name: 'JOURNAL_COMPACT_BYTES', key: 'journalCompactBytes', default: 16_777_216, parse: int(4096, 1 << 30), doc: 'log size that triggers a snapshot' },
  {
    name: 'DATABASE_URL',
    key: 'databaseUrl',
    default: undefined,
    parse: databaseUrl,
    doc: 'PostgreSQL to store everything in (postgres://user:password@host:5432/db); unset = the embedded journal in DATA_DIR',
  },
  { name: 'DATABASE_POOL_SIZE', key: 'databasePoolSize', default: 10, parse: int(1, 1000), doc: 'PostgreSQL connections at most (with DATABASE_URL)' },
  { name: 'INVOICE_EXPIRY_SECONDS', key: 'invoiceExpirySeconds', default: 600, parse: int(1, 86_400), doc: 'how long a Lightning invoice can be paid' },
  {
    name: 'LIGHTNING_POLL_MS',
    key: 'lightningPollMs',
    default: 3_000,
    parse: int(20, 600_000),
    doc: 'how often pending invoices are looked up at their backend',
  },
  { name: 'LIGHTNING_TIMEOUT_MS', key: 'lightningTimeoutMs', default: 10_000, parse: int(100, 120_000), doc: 'timeout of each request to a Lightning backend' },
  {
    name: 'PAYMENT_REPLAY_HOURS',
    key: 'paymentReplayHours',
    default: 24,
    parse: int(0, 24 * 365),
    doc: 'how far back unacknowledged payments are sent again to a machine that subscribes',
  },
  { name: 'HOMEASSISTANT_DISCOVERY', key: 'homeAssistantDiscovery', default: false, parse: bool, doc: 'publish Home Assistant MQTT discovery for every asset' },
  {
    name: 'LNURL_CALLBACKS_PER_MINUTE',
    key: 'lnurlCallbacksPerMinute',
    default: 120,
    parse: int(0, 1_000_000),
    doc: 'invoices per minute per client IP (0 = unlimited)',
  },
  {
    name: 'LNURL_INVOICES_PER_ASSET_PER_MINUTE',
    key: 'lnurlInvoicesPerAssetPerMinute',
    default: 60,
    parse: int(0, 1_000_000),
    doc: 'invoices per minute for one asset, from any number of addresses (0 = unlimited)',
  },
  {
    name: 'HTTP_HEADERS_TIMEOUT_MS',
    key: 'httpHeadersTimeoutMs',
    default: 10_000,
    parse: int(100, 600_000),
    doc: 'close a connection whose request headers have not all arrived in this time',
  },
  {
    name: 'HTTP_REQUEST_TIMEOUT_MS',
    key: 'httpRequestTimeoutMs',
    default: 30_000,
    parse: int(100, 600_000),
    doc: 'close a connection whose whole request (headers and body) has not arrived in this time',
  },
  {
    name: 'MQTT_MAX_CONNECTIONS',
    key: 'mqttMaxConnections',
    default: DEFAULT_MQTT_LIMITS.connections,
    parse: int(1, 1_000_000),
    doc: 'open MQTT connections (TCP and WebSocket, logged in or not)',
  },
  {
    name: 'MQTT_MAX_PENDING_PER_ADDRESS',
    key: 'mqttMaxPendingPerAddress',
    default: DEFAULT_MQTT_LIMITS.pendingPerAddress,
    parse: int(1, 1_000_000),
    doc: 'MQTT connections from one address not logged in yet (more are closed at once)',
  },
  {
    name: 'MQTT_MAX_CONNECTIONS_PER_ACCOUNT',
    key: 'mqttMaxConnectionsPerAccount',
    default: DEFAULT_MQTT_LIMITS.connectionsPerAccount,
    parse: int(1, 1_000_000),
    doc: 'MQTT connections of one account (refused with CONNACK 3)',
  },
  {
    name: 'MQTT_MAX_CONNECTIONS_PER_CREDENTIAL',
    key: 'mqttMaxConnectionsPerCredential',
    default: DEFAULT_MQTT_LIMITS.connectionsPerCredential,
    parse: int(1, 1_000_000),
    doc: 'MQTT connections of one API key or device credential (refused with CONNACK 3)',
  },
  {
    name: 'MQTT_MAX_SUBSCRIPTIONS_PER_CLIENT',
    key: 'mqttMaxSubscriptionsPerClient',
    default: DEFAULT_MQTT_LIMITS.subscriptionsPerClient,
    parse: int(1, 100_000),
    doc: 'topic filters one MQTT client may hold (more get SUBACK 0x80)',
  },
  {
    name: 'MQTT_MAX_QUEUED_PER_SESSION',
    key: 'mqttMaxQueuedPerSession',
    default: DEFAULT_MQTT_LIMITS.queuedPerSession,
    parse: int(1, 1_000_000),
    doc: 'QoS 1 messages a persistent session holds, queued or in flight',
  },
  {
    name: 'MQTT_MAX_QUEUED_BYTES_PER_SESSION',
    key: 'mqttMaxQueuedBytesPerSession',
    default: DEFAULT_MQTT_LIMITS.queuedBytesPerSession,
    parse: int(1024, 1 << 30),
    doc: 'bytes of those messages',
  },
  {
    name: 'MQTT_MAX_SESSIONS_PER_ACCOUNT',
    key: 'mqttMaxSessionsPerAccount',
    default: DEFAULT_MQTT_LIMITS.sessionsPerAccount,
    parse: int(1, 1_000_000),
    doc: 'persistent sessions one account keeps (the oldest offline one makes room)',
  },
  {
    name: 'MQTT_RETAINED_MAX_BYTES',
    key: 'mqttRetainedMaxBytes',
    default: DEFAULT_MQTT_LIMITS.retainedMaxBytes,
    parse: int(16, 65_536),
    doc: 'largest retained payload a client may publish',
  },
  {
    name: 'X402_SCRYPT_N',
    key: 'x402ScryptN',
    default: 32_768,
    parse: powerOfTwo(1_024, 1_048_576),
    doc: "scrypt cost N (a power of two; r = 8, p = 1) of the x402 facilitator's password hashes",
  },
  {
    name: 'X402_ACCESS_TOKEN_TTL_SECONDS',
    key: 'x402AccessTokenTtlSeconds',
    default: 900,
    parse: int(10, 86_400),
    doc: 'lifetime of an x402 access token (JWT)',
  },
  {
    name: 'X402_REFRESH_TOKEN_TTL_SECONDS',
    key: 'x402RefreshTokenTtlSeconds',
    default: 2_592_000,
    parse: int(60, 31_536_000),
    doc: 'lifetime of an x402 refresh token (rotated on each use)',
  },
  { name: 'X402_LOGINS_PER_MINUTE', key: 'x402LoginsPerMinute', default: 10, parse: int(0, 1_000_000), doc: 'x402 logins per minute per IP (0 = unlimited)' },
  { name: 'X402_MAX_CLIENTS_PER_USER', key: 'x402MaxClientsPerUser', default: 100, parse: int(1, 100_000), doc: 'live x402 client keys a user may hold' },
  { name: 'X402_MAX_RESOURCES_PER_USER', key: 'x402MaxResourcesPerUser', default: 1_000, parse: int(1, 1_000_000), doc: 'x402 resources a user may register' },
  {
    name: 'X402_CLIENT_REQUESTS_PER_MINUTE',
    key: 'x402ClientRequestsPerMinute',
    default: 6_000,
    parse: int(0, 10_000_000),
    doc: 'requests per minute per x402 client key to /verify, /settle and /supported (0 = unlimited)',
  },
  {
    name: 'X402_NETWORKS',
    key: 'x402Networks',
    default: [],
    parse: parseNetworks,
    doc: "the x402 facilitator's EVM networks: a JSON array of {network, chainId, rpcUrl, feePayerKeyEnv, assets?, erc6492Factories?, receiptTimeoutMs?}; empty = no active network",
  },
  {
    name: 'LICENSE_SIGNING_KEY',
    key: 'licenseSigningKey',
    default: undefined,
    parse: optionalText,
    doc: 'the license signing key, Ed25519 (PKCS #8 PEM or the 32-byte seed in hex); unset = generated into DATA_DIR',
  },
  { name: 'LICENSE_OPERATOR', key: 'licenseOperator', default: 'Paywire', parse: nonEmpty, doc: "the operator named in the license server's metadata" },
  {
    name: 'LICENSE_VALIDATE_PER_MINUTE',
    key: 'licenseValidatePerMinute',
    default: 600,
    parse: int(0, 10_000_000),
    doc: 'license validations per minute per client IP (0 = unlimited)',
  },
  {
    name: 'LICENSE_SEAT_RECLAIM_SECONDS',
    key: 'licenseSeatReclaimSeconds',
    default: 0,
    parse: int(0, 10 * 365 * 86_400),
    doc: 'a license seat whose machine has not validated for this long may be taken by another machine (0 = never)',
  },
  {
    name: 'LICENSE_VENDOR_ACCOUNT',
    key: 'licenseVendorAccount',
    default: undefined,
    parse: optionalText,
    doc: 'username (or id) of the account that sells licenses: purchases are invoiced on its Lightning wallet and settle into its events and webhooks; unset = no purchases',
  },
  {
    name: 'LICENSE_PURCHASES_PER_MINUTE',
    key: 'licensePurchasesPerMinute',
    default: 30,
    parse: int(0, 1_000_000),
    doc: 'license purchases (invoices) per minute per client IP (0 = unlimited)',
  },
  {
    name: 'LICENSE_PURCHASES_PER_PRODUCT_PER_MINUTE',
    key: 'licensePurchasesPerProductPerMinute',
    default: 120,
    parse: int(0, 1_000_000),
    doc: 'purchases of one product per minute, from any number of addresses (0 = unlimited): pending invoices cannot pile up',
  },
] as Setting[];

/** `LIGHTNING_BACKEND` is parsed with the settings of the backend it names. */
export const LIGHTNING_BACKEND_SETTING = 'LIGHTNING_BACKEND';

/** Environment names of every backend's settings (`LNBITS_URL`, …), for the config file check and the README. */
export function backendSettingNames(): string[] {
  return Object.values(BACKEND_SPECS).flatMap((spec) => Object.values(spec.env) as string[]);
}

const PREFIX_SETTINGS = [
  { name: 'MACHINES_PREFIX', family: 'machines', default: '' },
  { name: 'X402_PREFIX', family: 'x402', default: '/x402' },
  { name: 'LICENSE_PREFIX', family: 'license', default: '/license' },
  { name: 'LNURL_PREFIX', family: 'lnurl', default: '/lnurl' },
] as const;

export const PREFIX_SETTING_NAMES = PREFIX_SETTINGS.map((p) => p.name);

export class ConfigError extends PaywireError<'config_invalid'> {
  readonly problems: string[];
  constructor(problems: string[]) {
    super('config_invalid', `Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`, { details: problems });
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export interface ConfigSources {
  env?: Record<string, string | undefined>;
  /** Path of a JSON config file; `PAYWIRE_CONFIG` in `env` is used when absent. */
  file?: string;
  /** Values that win over everything (used by tests and embedders). */
  overrides?: Partial<Record<string, unknown>>;
}

function readFileSource(path: string, problems: string[]): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    problems.push(`config file ${path}: ${(err as Error).message}`);
    return {};
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    problems.push(`config file ${path}: must hold a JSON object`);
    return {};
  }
  return parsed as Record<string, unknown>;
}

type Lookup = (name: string) => { raw: unknown; from: string } | undefined;

/** The default backend and its settings, each field read from its own environment variable. */
function lightningChoice(pick: Lookup, problems: string[]): BackendChoice {
  const source = pick(LIGHTNING_BACKEND_SETTING);
  const parsed = source ? backendKind(source.raw) : { value: 'dev' as const };
  if ('error' in parsed) {
    problems.push(`${LIGHTNING_BACKEND_SETTING} (${source?.from}) ${parsed.error}`);
    return { kind: 'dev', settings: {}, secrets: {} };
  }
  const kind = parsed.value;
  if (kind === 'dev') return { kind, settings: {}, secrets: {} };
  const spec = BACKEND_SPECS[kind];
  if (!spec) {
    problems.push(`${LIGHTNING_BACKEND_SETTING} ${kind} is not available in this build`);
    return { kind: 'dev', settings: {}, secrets: {} };
  }
  const read = (schema: z.ZodType<Record<string, string>>): Record<string, string> => {
    const shape = (schema as unknown as z.ZodObject).shape;
    const raw: Record<string, unknown> = {};
    for (const field of Object.keys(shape)) {
      const value = pick((spec.env as Record<string, string>)[field] as string)?.raw;
      if (value !== undefined && value !== '') raw[field] = text(value);
    }
    const result = schema.safeParse(raw);
    if (result.success) return result.data;
    for (const issue of result.error.issues) {
      const field = String(issue.path[0] ?? '');
      problems.push(`${(spec.env as Record<string, string>)[field] ?? field} (needed by ${LIGHTNING_BACKEND_SETTING}=${kind}) ${issue.message}`);
    }
    return {};
  };
  return { kind, settings: read(spec.settings), secrets: read(spec.secrets) };
}

/** Build and validate the configuration; throws ConfigError listing every problem. */
export function loadConfig(sources: ConfigSources = {}): Config {
  const env = sources.env ?? {};
  const problems: string[] = [];
  const known = new Set<string>([...SETTINGS.map((s) => s.name), ...PREFIX_SETTING_NAMES, LIGHTNING_BACKEND_SETTING, ...backendSettingNames()]);
  const filePath = sources.file ?? env['PAYWIRE_CONFIG'];
  const file = filePath ? readFileSource(filePath, problems) : {};
  for (const key of Object.keys(file)) {
    if (!known.has(key)) problems.push(`config file ${filePath}: unknown setting ${key}`);
  }
  const overrides = sources.overrides ?? {};

  const pick = (name: string): { raw: unknown; from: string } | undefined => {
    if (overrides[name] !== undefined) return { raw: overrides[name], from: 'override' };
    if (env[name] !== undefined) return { raw: env[name], from: 'environment' };
    if (file[name] !== undefined) return { raw: file[name], from: `config file ${filePath}` };
    return undefined;
  };

  const out: Record<string, unknown> = {};
  for (const setting of SETTINGS) {
    const source = pick(setting.name);
    if (!source) {
      out[setting.key] = setting.default;
      continue;
    }
    const result = setting.parse(source.raw);
    if ('error' in result) problems.push(`${setting.name} (${source.from}) ${result.error}`);
    else out[setting.key] = result.value;
  }
  out['mqttPortExplicit'] = pick('MQTT_PORT') !== undefined;
  // An account's keys together get twice one key's allowance unless told otherwise.
  out['rateLimitPerAccountPerMinute'] ??= 2 * Number(out['rateLimitPerMinute'] ?? 0);
  // Node refuses a headers deadline after the whole request's.
  if (Number(out['httpHeadersTimeoutMs']) > Number(out['httpRequestTimeoutMs'])) {
    problems.push(`HTTP_HEADERS_TIMEOUT_MS (${out['httpHeadersTimeoutMs']}) must not be longer than HTTP_REQUEST_TIMEOUT_MS (${out['httpRequestTimeoutMs']})`);
  }

  const prefixes: Record<string, string> = {};
  for (const p of PREFIX_SETTINGS) {
    const source = pick(p.name);
    if (!source) {
      prefixes[p.family] = p.default;
      continue;
    }
    const result = prefix(source.raw);
    if ('error' in result) problems.push(`${p.name} (${source.from}) ${result.error}`);
    else prefixes[p.family] = result.value;
  }
  const values = Object.values(prefixes);
  if (new Set(values).size !== values.length) {
    problems.push(`${PREFIX_SETTING_NAMES.join(', ')} must differ (got ${values.map((v) => JSON.stringify(v)).join(', ')})`);
  }
  if (prefixes['lnurl'] === '') problems.push('LNURL_PREFIX must not be empty');
  out['prefixes'] = prefixes;

  out['lightning'] = lightningChoice(pick, problems);

  if (problems.length > 0) throw new ConfigError(problems);
  const config = out as unknown as Config;
  config.dataDir = resolve(config.dataDir);
  return config;
}

/**
 * The daemon's configuration (`paywire-device --config device.json`): one JSON file, validated once
 * at start with every problem listed at once. Each asset names its relay and its displays; serial
 * ports named by several outputs (a relay and a display on one Uno) are opened once.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';

const port = z.string().trim().min(1, 'a serial port path is required, e.g. /dev/ttyUSB0');
const baud = (fallback: number) => z.int().min(300).max(4_000_000).default(fallback);

/** The serial protocol of device/PROTOCOL.md: a relay and a display on one cable. */
const serialPeripheral = z.strictObject({
  type: z.literal('serial'),
  port,
  baud: baud(115_200),
  timeout_ms: z.int().min(10).max(10_000).default(250),
  retries: z.int().min(0).max(10).default(3),
});

export const relayConfig = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('firmata'), port, baud: baud(57_600), pin: z.int().min(0).max(127), active_low: z.boolean().default(false) }),
  z.strictObject({
    type: z.literal('gpio'),
    /** A chip number (/dev/gpiochipN) or a path. */
    chip: z.union([z.int().min(0).max(63), z.string().trim().min(1)]).default(0),
    line: z.int().min(0).max(1023),
    active_low: z.boolean().default(false),
  }),
  serialPeripheral,
  z.strictObject({ type: z.literal('console') }),
]);
export type RelayConfig = z.infer<typeof relayConfig>;

export const displayConfig = z.discriminatedUnion('type', [
  serialPeripheral,
  z.strictObject({
    type: z.literal('nextion'),
    port,
    baud: baud(9_600),
    qr_component: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_.]{0,31}$/, 'a Nextion component name')
      .default('qr0'),
    text_component: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_.]{0,31}$/, 'a Nextion component name')
      .default('t0'),
  }),
  z.strictObject({
    type: z.literal('escpos'),
    port,
    /** `serial`: a serial printer; `file`: a character device such as /dev/usb/lp0. */
    transport: z.enum(['serial', 'file']).default('serial'),
    baud: baud(9_600),
    title: z.string().max(32).default('Paywire'),
  }),
  z.strictObject({ type: z.literal('console'), render_qr: z.boolean().default(false) }),
]);
export type DisplayConfig = z.infer<typeof displayConfig>;

const login = z.strictObject({
  username: z.string().min(1).max(256),
  password: z.string().min(1).max(1024),
});

const assetConfig = z.strictObject({
  asset_id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'an asset id'),
  /** The payment QR: the asset's payment link as LNURL (its `lnurl` field), shown between vends. */
  qr: z.string().min(1).max(160),
  relay: relayConfig,
  displays: z.array(displayConfig).max(4).default([]),
  /** This asset's own login (a device credential); otherwise the daemon's `mqtt` login. */
  login: login.optional(),
  /** Longest run a payment may ask for; longer ones run this long. */
  max_duration_ms: z.int().min(1).max(86_400_000).default(600_000),
});
export type AssetConfig = z.infer<typeof assetConfig>;

export const deviceConfig = z
  .strictObject({
    /** The account (`user_id`) the assets belong to: topics are `paywire/<account_id>/<asset_id>/…`. */
    account_id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'the account user_id'),
    mqtt: z.strictObject({
      url: z.url({ protocol: /^(mqtts?|wss?)$/, error: 'an mqtt://, mqtts://, ws:// or wss:// URL' }),
      username: z.string().min(1).max(256).optional(),
      password: z.string().min(1).max(1024).optional(),
      client_id_prefix: z
        .string()
        .regex(/^[A-Za-z0-9_-]{1,40}$/)
        .default('paywire-device'),
      keepalive_s: z.int().min(5).max(600).default(30),
      reconnect_min_ms: z.int().min(100).max(60_000).default(1_000),
      reconnect_max_ms: z.int().min(100).max(600_000).default(30_000),
    }),
    /** Where the payment ledger (payments already run) is kept. */
    state_dir: z.string().min(1).default('./device-state'),
    /** How many payment ids are remembered (a replay of an older one would run again). */
    remember_payments: z.int().min(10).max(100_000).default(2_000),
    /** Payments that may wait per asset while its relay runs. */
    max_queue: z.int().min(1).max(10_000).default(100),
    assets: z.array(assetConfig).min(1, 'at least one asset').max(200),
    license: z
      .strictObject({
        key: z
          .string()
          .trim()
          .regex(/^LIC1-/i, 'a LIC1- license key'),
        /** The license server's Ed25519 public key: PEM (SPKI) or 64 hex digits. */
        public_key: z.string().min(1),
        /** The product this daemon is licensed as (its UUID); any product when absent. */
        product_id: z.uuid().optional(),
        fingerprint: z.string().min(1).max(256).optional(),
        /** Also ask the bridge (`…/license/request`) and follow its answers (revocations). */
        online: z.boolean().default(true),
      })
      .optional(),
    log_level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  })
  .superRefine((c, ctx) => {
    const seen = new Set<string>();
    c.assets.forEach((a, i) => {
      if (seen.has(a.asset_id)) ctx.addIssue({ code: 'custom', path: ['assets', i, 'asset_id'], message: `asset ${a.asset_id} is listed twice` });
      seen.add(a.asset_id);
      if (!a.login && (c.mqtt.username === undefined || c.mqtt.password === undefined)) {
        ctx.addIssue({
          code: 'custom',
          path: ['assets', i, 'login'],
          message: 'no login: give the asset a device credential here, or mqtt.username and mqtt.password',
        });
      }
    });
    if ((c.mqtt.username === undefined) !== (c.mqtt.password === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['mqtt'], message: 'username and password go together' });
    }
    if (c.mqtt.reconnect_max_ms < c.mqtt.reconnect_min_ms)
      ctx.addIssue({ code: 'custom', path: ['mqtt', 'reconnect_max_ms'], message: 'must be at least reconnect_min_ms' });
    // One port, one protocol: a Firmata board and a PROTOCOL.md peripheral cannot share a cable.
    const kinds = new Map<string, string>();
    const claim = (p: string, kind: string, path: (string | number)[]) => {
      const had = kinds.get(p);
      if (had !== undefined && had !== kind) ctx.addIssue({ code: 'custom', path, message: `${p} is already used by a ${had} output` });
      else kinds.set(p, kind);
    };
    c.assets.forEach((a, i) => {
      if (a.relay.type === 'firmata' || a.relay.type === 'serial') claim(a.relay.port, a.relay.type, ['assets', i, 'relay', 'port']);
      a.displays.forEach((d, j) => {
        if (d.type !== 'console' && !(d.type === 'escpos' && d.transport === 'file')) claim(d.port, d.type, ['assets', i, 'displays', j, 'port']);
      });
    });
  });
export type DeviceConfig = z.infer<typeof deviceConfig>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid device config:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/** Validate a parsed config object; throws a ConfigError listing every problem. */
export function parseConfig(input: unknown): DeviceConfig {
  const result = deviceConfig.safeParse(input);
  if (result.success) return result.data;
  throw new ConfigError(result.error.issues.map((i) => `${i.path.length > 0 ? i.path.join('.') : '(root)'}: ${i.message}`));
}

export async function loadConfigFile(path: string): Promise<DeviceConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError([`${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`]);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ConfigError([`${path}: not JSON (${(err as Error).message})`]);
  }
  return parseConfig(json);
}

/**
 * The outbound address policy (the SSRF guard's table): which IP addresses the bridge may connect to
 * when it fetches a URL a tenant chose. Only globally reachable unicast is allowed; loopback, private,
 * shared (CGNAT), link-local, multicast, unspecified, broadcast, documentation and reserved ranges are
 * refused, and so are IPv6 forms that carry such an IPv4 address (mapped, compatible, NAT64, 6to4).
 * Ranges: the IANA IPv4 and IPv6 Special-Purpose Address Registries (RFC 6890 and its updates).
 * An operator may allow host names and ranges (`OUTBOUND_ALLOW`), e.g. an LNbits on the LAN.
 */
import { BlockList, isIP } from 'node:net';

type Range = [network: string, prefix: number, name: string];

/** IPv4 special-purpose ranges (RFC 6890 §2.2.2 and updates), most specific first. */
const IPV4_RANGES: Range[] = [
  ['255.255.255.255', 32, 'broadcast'], // RFC 919
  ['0.0.0.0', 8, 'unspecified'], // RFC 1122 "this network"
  ['10.0.0.0', 8, 'private'], // RFC 1918
  ['100.64.0.0', 10, 'shared (CGNAT)'], // RFC 6598
  ['127.0.0.0', 8, 'loopback'], // RFC 1122
  ['169.254.0.0', 16, 'link-local'], // RFC 3927
  ['172.16.0.0', 12, 'private'], // RFC 1918
  ['192.0.0.0', 24, 'reserved (IETF protocol assignments)'], // RFC 6890
  ['192.0.2.0', 24, 'documentation'], // RFC 5737
  ['192.88.99.0', 24, 'reserved (6to4 relay anycast)'], // RFC 7526
  ['192.168.0.0', 16, 'private'], // RFC 1918
  ['198.18.0.0', 15, 'reserved (benchmarking)'], // RFC 2544
  ['198.51.100.0', 24, 'documentation'], // RFC 5737
  ['203.0.113.0', 24, 'documentation'], // RFC 5737
  ['224.0.0.0', 4, 'multicast'], // RFC 5771
  ['240.0.0.0', 4, 'reserved'], // RFC 1112
];

/** IPv6 special-purpose ranges (RFC 6890 §2.2.3 and updates) that carry no IPv4 address to look at. */
const IPV6_RANGES: Range[] = [
  ['::', 128, 'unspecified'], // RFC 4291
  ['::1', 128, 'loopback'], // RFC 4291
  ['::', 96, 'reserved (IPv4-compatible)'], // RFC 4291 §2.5.5.1, deprecated
  ['::ffff:0:0:0', 96, 'reserved (IPv4-translated)'], // RFC 2765
  ['64:ff9b:1::', 48, 'reserved (local NAT64)'], // RFC 8215
  ['100::', 64, 'reserved (discard-only)'], // RFC 6666
  ['2001:db8::', 32, 'documentation'], // RFC 3849
  ['2001::', 23, 'reserved (IETF protocol assignments, Teredo)'], // RFC 2928, RFC 4380
  ['3fff::', 20, 'documentation'], // RFC 9637
  ['fc00::', 7, 'unique local'], // RFC 4193
  ['fe80::', 10, 'link-local'], // RFC 4291
  ['fec0::', 10, 'site-local'], // RFC 3879
  ['ff00::', 8, 'multicast'], // RFC 4291
];

function table(ranges: Range[], type: 'ipv4' | 'ipv6'): { list: BlockList; name: string }[] {
  return ranges.map(([network, prefix, name]) => {
    const list = new BlockList();
    list.addSubnet(network, prefix, type);
    return { list, name };
  });
}

const V4 = table(IPV4_RANGES, 'ipv4');
const V6 = table(IPV6_RANGES, 'ipv6');

/** Global unicast (RFC 4291 §2.4): everything outside 2000::/3 is reserved by IANA. */
const GLOBAL_UNICAST = new BlockList();
GLOBAL_UNICAST.addSubnet('2000::', 3, 'ipv6');

/** The 16 bytes of an IPv6 address (zone removed), or undefined when it is not one. */
export function ipv6Bytes(text: string): Uint8Array | undefined {
  const address = text.split('%')[0] ?? '';
  if (isIP(address) !== 6) return undefined;
  const bytes = new Uint8Array(16);
  const [head = '', tail] = address.split('::') as [string, string | undefined];
  const groups = (part: string): number[] => {
    if (part === '') return [];
    const out: number[] = [];
    for (const group of part.split(':')) {
      if (group.includes('.')) {
        const [a = 0, b = 0, c = 0, d = 0] = group.split('.').map(Number);
        out.push((a << 8) | b, (c << 8) | d);
      } else out.push(parseInt(group, 16));
    }
    return out;
  };
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const all = tail === undefined ? left : [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  all.forEach((group, i) => {
    bytes[i * 2] = group >> 8;
    bytes[i * 2 + 1] = group & 0xff;
  });
  return bytes;
}

const dotted = (b: Uint8Array, at: number) => `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
const zeros = (b: Uint8Array, from: number, to: number) => b.subarray(from, to).every((x) => x === 0);

/**
 * The IPv4 address an IPv6 address stands for, when it carries one that is reached through it:
 * IPv4-mapped `::ffff:a.b.c.d` (RFC 4291), NAT64 `64:ff9b::a.b.c.d` (RFC 6052), 6to4 `2002:AABB:CCDD::` (RFC 3056).
 */
export function embeddedIpv4(address: string): { ipv4: string; form: string } | undefined {
  const b = ipv6Bytes(address);
  if (!b) return undefined;
  if (zeros(b, 0, 10) && b[10] === 0xff && b[11] === 0xff) return { ipv4: dotted(b, 12), form: 'IPv4-mapped' };
  if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zeros(b, 4, 12)) return { ipv4: dotted(b, 12), form: 'NAT64' };
  if (b[0] === 0x20 && b[1] === 0x02) return { ipv4: dotted(b, 2), form: '6to4' };
  return undefined;
}

/**
 * An IPv4 address in any spelling `inet_aton` accepts (what getaddrinfo does with a numeric host):
 * 1 to 4 parts, each decimal, octal (leading 0) or hex (0x), the last filling the remaining bytes:
 * `2130706433`, `0x7f.1`, `0177.0.0.1`, `127.1`. Canonical dotted form, or undefined.
 */
export function looseIpv4(host: string): string | undefined {
  const parts = host.replace(/\.$/, '').split('.');
  if (parts.length < 1 || parts.length > 4) return undefined;
  const values: number[] = [];
  for (const part of parts) {
    let n: number;
    if (/^0x[0-9a-f]*$/i.test(part)) n = part.length === 2 ? 0 : parseInt(part.slice(2), 16);
    else if (/^0[0-7]+$/.test(part)) n = parseInt(part, 8);
    else if (/^(0|[1-9][0-9]*)$/.test(part)) n = Number(part);
    else return undefined;
    values.push(n);
  }
  const last = values.pop() as number;
  if (values.some((v) => v > 255) || last >= 2 ** (8 * (4 - values.length))) return undefined;
  let value = last;
  values.forEach((v, i) => {
    value += v * 2 ** (8 * (3 - i));
  });
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}

/** The IP address a URL host names literally (brackets and a final dot removed, any numeric IPv4 spelling), or undefined for a name. */
export function literalAddress(host: string): string | undefined {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (isIP(bare) !== 0) return bare.toLowerCase();
  return looseIpv4(bare);
}

/** Which special-purpose range holds `address` (e.g. `loopback`), or undefined for a public address. */
export function specialRange(address: string): string | undefined {
  const family = isIP(address);
  if (family === 4) return V4.find((r) => r.list.check(address, 'ipv4'))?.name;
  if (family !== 6) return 'not an IP address';
  const bare = address.split('%')[0] as string;
  const embedded = embeddedIpv4(bare);
  if (embedded) {
    const inner = specialRange(embedded.ipv4);
    return inner === undefined ? undefined : `${embedded.form} ${inner}`;
  }
  const named = V6.find((r) => r.list.check(bare, 'ipv6'))?.name;
  if (named) return named;
  return GLOBAL_UNICAST.check(bare, 'ipv6') ? undefined : 'reserved';
}

/** `OUTBOUND_ALLOW`: host names (`lnbits.lan`, `*.lan`) and ranges (`192.168.1.0/24`, `10.0.0.7`, `fd00::/8`) the operator lets through. */
export class OutboundAllow {
  private readonly names = new Set<string>();
  private readonly suffixes: string[] = [];
  private readonly ranges = new BlockList();
  /** The entries as given, for logs. */
  readonly entries: string[];

  private constructor(entries: string[]) {
    this.entries = entries;
  }

  static readonly none = new OutboundAllow([]);

  /** `base` plus one more host name or address (the operator's own default backend). */
  static with(base: OutboundAllow, host: string): OutboundAllow {
    const parsed = OutboundAllow.parse([...base.entries, host]);
    return 'value' in parsed ? parsed.value : base;
  }

  /** Parse a comma-separated list (or an array); errors name each bad entry. */
  static parse(raw: string | string[]): { value: OutboundAllow } | { error: string } {
    const entries = (Array.isArray(raw) ? raw : raw.split(',')).map((e) => e.trim().toLowerCase()).filter((e) => e !== '');
    const allow = new OutboundAllow(entries);
    const bad: string[] = [];
    for (const entry of entries) {
      const [network = '', prefixText, extra] = entry.split('/');
      const address = literalAddress(network);
      if (address !== undefined && extra === undefined && (prefixText === undefined || /^\d{1,3}$/.test(prefixText))) {
        const type = isIP(address) === 4 ? 'ipv4' : 'ipv6';
        const max = type === 'ipv4' ? 32 : 128;
        const prefix = prefixText === undefined ? max : Number(prefixText);
        if (prefix <= max && isIP(network.replace(/^\[|\]$/g, '')) !== 0) {
          allow.ranges.addSubnet(address.split('%')[0] as string, prefix, type);
          continue;
        }
      } else if (
        prefixText === undefined &&
        /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.?$/.test(entry) &&
        address === undefined
      ) {
        const name = entry.replace(/\.$/, '');
        if (name.startsWith('*.')) allow.suffixes.push(name.slice(1));
        else allow.names.add(name);
        continue;
      }
      bad.push(entry);
    }
    return bad.length > 0
      ? {
          error: `must be a comma-separated list of host names (lnbits.lan, *.lan) and IP ranges (192.168.1.0/24, 10.0.0.7, fd00::/8); not understood: ${bad.join(', ')}`,
        }
      : { value: allow };
  }

  /** The operator trusts this host name wherever it resolves. */
  allowsName(hostname: string): boolean {
    const name = hostname.toLowerCase().replace(/\.$/, '');
    return this.names.has(name) || this.suffixes.some((s) => name.endsWith(s) && name.length > s.length);
  }

  /** The address (or the IPv4 address it maps to) lies in an allowed range. */
  allowsAddress(address: string): boolean {
    const bare = address.split('%')[0] as string;
    const family = isIP(bare);
    if (family === 0) return false;
    if (this.ranges.check(bare, family === 4 ? 'ipv4' : 'ipv6')) return true;
    const mapped = embeddedIpv4(bare);
    return mapped?.form === 'IPv4-mapped' && this.ranges.check(mapped.ipv4, 'ipv4');
  }

  /**
   * Why the bridge may not connect to `address` for a URL naming `hostname`, or undefined when it
   * may: an allowed name or range passes, else only public addresses do.
   */
  refusal(address: string, hostname?: string): string | undefined {
    if (hostname !== undefined && this.allowsName(hostname)) return undefined;
    if (this.allowsAddress(address)) return undefined;
    return specialRange(address);
  }
}

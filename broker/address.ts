/**
 * The key a per-address limit counts under: an IPv4 address as it is (`::ffff:` mapped ones too, so the same
 * client counts once over IPv4 and IPv6 sockets), an IPv6 address by its /64 (one subscriber usually holds a
 * whole /64, and could otherwise take a fresh address for every request). Used by the broker's pre-login cap
 * and by the HTTP families' per-address rate limits.
 */
import { isIPv4, isIPv6 } from 'node:net';

export function addressKey(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  if (mapped) return mapped[1] as string;
  if (isIPv4(address) || !isIPv6(address)) return address;
  return `${expandIPv6(address).slice(0, 4).join(':')}::/64`;
}

/** The eight groups of an IPv6 address, lowercase, without leading zeros (`fe80::1` → fe80,0,0,0,0,0,0,1). */
function expandIPv6(address: string): string[] {
  const plain = address.split('%')[0] as string; // no zone id
  // An embedded IPv4 tail (::1.2.3.4) is two groups.
  const v4 = /(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(plain);
  const text = v4 ? plain.slice(0, v4.index) + [((+v4[1]! << 8) | +v4[2]!).toString(16), ((+v4[3]! << 8) | +v4[4]!).toString(16)].join(':') : plain;
  const [head, tail] = text.split('::') as [string, string | undefined];
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = tail === undefined ? [] : Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...zeros, ...right].map((g) => parseInt(g, 16).toString(16));
}

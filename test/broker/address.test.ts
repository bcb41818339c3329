/**
 * The key per-address limits count under (broker/address.ts): IPv4 as it is, IPv4-mapped IPv6 as its IPv4, and
 * IPv6 by its /64 however it is written.
 */
import { describe, expect, it } from 'vitest';
import { addressKey } from '../../broker/address.js';

describe('addressKey', () => {
  it('keeps IPv4, unwraps IPv4-mapped IPv6, and counts IPv6 by its /64 in any spelling', () => {
    expect(addressKey('203.0.113.7')).toBe('203.0.113.7');
    expect(addressKey('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(addressKey('::FFFF:10.0.0.1')).toBe('10.0.0.1');
    const net = '2001:db8:0:0::/64';
    for (const a of ['2001:db8::1', '2001:db8::ffff:2', '2001:0db8:0000:0000:abcd::1', '2001:DB8:0:0:1:2:3:4', '2001:db8::1%eth0'])
      expect(addressKey(a)).toBe(net);
    expect(addressKey('2001:db8:0:1::1')).toBe('2001:db8:0:1::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey('64:ff9b::198.51.100.1')).toBe('64:ff9b:0:0::/64');
    // Not an address (a socket already gone): kept as it is.
    expect(addressKey('unknown')).toBe('unknown');
  });
});

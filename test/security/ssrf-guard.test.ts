/**
 * The SSRF guard on its own: the address table (every forbidden form, whatever the URL parser
 * makes of it, and public addresses that must pass), the allowlist, and the guarded client against
 * a resolver that plays DNS: every answer is checked, and the connection goes only to the address
 * that was checked (a rebinding answer is never used). Redirects are not followed.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { serversClosedAfterEach } from '../helpers/receiver.js';
import { ConfigError, loadConfig } from '../../bridge/config.js';
import { Outbound, OutboundError, type Resolver } from '../../bridge/http/outbound.js';
import { literalAddress, OutboundAllow, specialRange } from '../../bridge/http/ssrf.js';
import { Metrics } from '../../bridge/metrics.js';
import { FORBIDDEN_HOSTS } from './forbidden-addresses.js';

function allow(list: string): OutboundAllow {
  const parsed = OutboundAllow.parse(list);
  if ('error' in parsed) throw new Error(parsed.error);
  return parsed.value;
}

const servers = serversClosedAfterEach();

/** A server that answers `name`; `hits` counts its requests. */
async function serve(host: string, port = 0, answer: (res: import('node:http').ServerResponse) => void = (res) => res.end('ok')) {
  const state = { port: 0, hits: 0 };
  const server = createServer((_req, res) => {
    state.hits++;
    answer(res);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  state.port = (server.address() as AddressInfo).port;
  return state;
}

async function refusal(promise: Promise<unknown>): Promise<OutboundError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(OutboundError);
  return err as OutboundError;
}

describe('the address table', () => {
  it('refuses every forbidden form, as the URL parser gives it and as written', () => {
    for (const [host, what] of FORBIDDEN_HOSTS) {
      const parsed = literalAddress(new URL(`http://${host}/`).hostname);
      expect(parsed, host).toBeDefined();
      expect(specialRange(parsed as string), `${host} (${what})`).toBeDefined();
      // Not relying on the URL parser: the host as written reads as the same address.
      const written = literalAddress(host);
      if (written !== undefined) expect(specialRange(written), `${host} as written`).toBeDefined();
    }
    expect(literalAddress('2130706433')).toBe('127.0.0.1');
    expect(literalAddress('0x7f.1')).toBe('127.0.0.1');
    expect(literalAddress('0177.0.0.1')).toBe('127.0.0.1');
    expect(literalAddress('017700000001')).toBe('127.0.0.1');
    expect(literalAddress('127.1')).toBe('127.0.0.1');
    expect(literalAddress('10.1')).toBe('10.0.0.1');
    expect(literalAddress('example.com')).toBeUndefined();
  });

  it('names the range', () => {
    expect(specialRange('127.0.0.1')).toBe('loopback');
    expect(specialRange('::ffff:7f00:1')).toBe('IPv4-mapped loopback');
    expect(specialRange('64:ff9b::a9fe:a9fe')).toBe('NAT64 link-local');
    expect(specialRange('2002:a00:1::')).toBe('6to4 private');
    expect(specialRange('100.100.100.100')).toBe('shared (CGNAT)');
    expect(specialRange('fe80::1%eth0')).toBe('link-local');
    expect(specialRange('4000::1')).toBe('reserved');
  });

  it('lets public addresses through, in IPv4, IPv6 and the forms that carry a public IPv4', () => {
    for (const address of [
      '1.1.1.1',
      '8.8.8.8',
      '93.184.216.34',
      '172.32.0.1',
      '100.128.0.1',
      '2606:4700:4700::1111',
      '2a00:1450:4001:80b::200e',
      '::ffff:8.8.8.8',
      '64:ff9b::808:808',
      '2002:808:808::1',
    ]) {
      expect(specialRange(address), address).toBeUndefined();
    }
  });
});

describe('OUTBOUND_ALLOW', () => {
  it('takes names, wildcard names, addresses and ranges, and names what it does not understand', () => {
    const a = allow(' wallet.lan , *.home.arpa, 192.168.1.0/24, 10.0.0.7, fd00::/8, ::1 ');
    expect(a.refusal('192.168.1.20')).toBeUndefined();
    expect(a.refusal('192.168.2.20')).toBe('private');
    expect(a.refusal('10.0.0.7')).toBeUndefined();
    expect(a.refusal('10.0.0.8')).toBe('private');
    expect(a.refusal('::ffff:192.168.1.20')).toBeUndefined();
    expect(a.refusal('fd12::1')).toBeUndefined();
    expect(a.refusal('::1')).toBeUndefined();
    expect(a.refusal('127.0.0.1', 'wallet.lan')).toBeUndefined();
    expect(a.refusal('127.0.0.1', 'btcpay.home.arpa')).toBeUndefined();
    expect(a.refusal('127.0.0.1', 'home.arpa')).toBe('loopback');
    expect(a.refusal('127.0.0.1', 'wallet.lan.evil.example')).toBe('loopback');
    const bad = OutboundAllow.parse('10.0.0.0/33, not a host, 2130706433, http://x.lan');
    expect('error' in bad && bad.error).toMatch(/not understood: 10\.0\.0\.0\/33, not a host, 2130706433, http:\/\/x\.lan/);
    expect('value' in OutboundAllow.parse('')).toBe(true);
  });

  it('is read from the environment, and a bad entry stops the start with its name', () => {
    expect(loadConfig({ env: { OUTBOUND_ALLOW: 'lnbits.lan,192.168.0.0/16' } }).outboundAllow.refusal('192.168.4.4')).toBeUndefined();
    expect(loadConfig({ env: {} }).outboundAllow.refusal('192.168.4.4')).toBe('private');
    expect(() => loadConfig({ env: { OUTBOUND_ALLOW: 'lnbits.lan,192.168.0.0/99' } })).toThrow(ConfigError);
    expect(() => loadConfig({ env: { OUTBOUND_ALLOW: 'lnbits.lan,192.168.0.0/99' } })).toThrow(
      /OUTBOUND_ALLOW \(environment\) .*not understood: 192\.168\.0\.0\/99/,
    );
  });
});

describe('the guarded client with a resolver', () => {
  it('connects only to the address it checked: a rebinding answer is never used', async () => {
    const checked = await serve('127.0.0.1');
    // The internal service, on the same port of another loopback address.
    const internal = await serve('127.0.0.2', checked.port);
    const answers = ['127.0.0.1', '127.0.0.2'];
    const asked: string[] = [];
    const resolve: Resolver = async (name) => {
      asked.push(name);
      const address = answers.shift() ?? '127.0.0.2';
      return [{ address, family: 4 }];
    };
    const outbound = new Outbound({ allow: allow('127.0.0.1'), resolve });
    const res = await outbound.request(`http://rebind.example:${checked.port}/`, { timeoutMs: 5000 });
    expect(res.status).toBe(200);
    expect(checked.hits).toBe(1);
    expect(asked).toEqual(['rebind.example']);
    // The next lookup answers the internal address: refused before any connection.
    expect((await refusal(outbound.request(`http://rebind.example:${checked.port}/`, { timeoutMs: 5000 }))).message).toBe('refused');
    expect(internal.hits).toBe(0);
    expect(asked).toEqual(['rebind.example', 'rebind.example']);
  });

  it('refuses a name when any of its addresses is forbidden, and counts it', async () => {
    const server = await serve('127.0.0.1');
    const metrics = new Metrics();
    const resolve: Resolver = async () => [
      { address: '93.184.216.34', family: 4 },
      { address: '127.0.0.1', family: 4 },
    ];
    const outbound = new Outbound({ resolve, metrics });
    expect((await refusal(outbound.request(`http://mixed.example:${server.port}/`, { timeoutMs: 5000 }))).reason).toBe('refused');
    expect(server.hits).toBe(0);
    expect((await metrics.refusals.get()).values).toEqual([expect.objectContaining({ labels: { component: 'outbound', reason: 'ssrf' }, value: 1 })]);
  });

  it('refuses literal forms without asking the resolver, and a name the resolver cannot find', async () => {
    const server = await serve('127.0.0.1');
    const asked: string[] = [];
    const outbound = new Outbound({
      resolve: async (name) => {
        asked.push(name);
        throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
      },
    });
    for (const host of ['127.0.0.1', '2130706433', '[::ffff:127.0.0.1]', '0x7f.1']) {
      expect((await refusal(outbound.request(`http://${host}:${server.port}/`, { timeoutMs: 5000 }))).message, host).toBe('refused');
    }
    expect(asked).toEqual([]);
    expect((await refusal(outbound.request('http://nowhere.example/', { timeoutMs: 5000 }))).message).toBe('refused');
    expect(server.hits).toBe(0);
  });

  it('lets an allowed name through to a private address', async () => {
    const server = await serve('127.0.0.1');
    const outbound = new Outbound({ allow: allow('lnbits.lan'), resolve: async () => [{ address: '127.0.0.1', family: 4 }] });
    expect((await outbound.request(`http://lnbits.lan:${server.port}/`, { timeoutMs: 5000 })).body.toString()).toBe('ok');
    expect((await refusal(outbound.request(`http://other.lan:${server.port}/`, { timeoutMs: 5000 }))).message).toBe('refused');
    expect(server.hits).toBe(1);
  });

  it('does not follow redirects (a redirect to the metadata service is just a 3xx)', async () => {
    const server = await serve('127.0.0.1', 0, (res) => res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end());
    const outbound = new Outbound({ allow: allow('127.0.0.1') });
    const res = await outbound.request(`http://127.0.0.1:${server.port}/`, { timeoutMs: 5000 });
    expect(res.status).toBe(302);
    expect(server.hits).toBe(1);
  });
});

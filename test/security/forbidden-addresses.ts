/**
 * The SSRF test matrix: every spelling of a forbidden address the security tests point webhooks,
 * wallets and Lightning addresses at (loopback forms are aimed at a counting server's port, so a
 * request that got through would be seen), and small helpers the ssrf-* tests share.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { TestBridge } from '../helpers/bridge.js';

/** [host as written in a URL, what it is]. */
export const FORBIDDEN_HOSTS: [string, string][] = [
  ['127.0.0.1', 'loopback'],
  ['127.1', 'loopback, short form'],
  ['2130706433', 'loopback, one decimal number'],
  ['0x7f000001', 'loopback, one hex number'],
  ['0x7f.0.0.1', 'loopback, hex part'],
  ['0177.0.0.1', 'loopback, octal part'],
  ['127.000.000.001', 'loopback, zero-padded'],
  ['127.0.0.1.', 'loopback, trailing dot'],
  ['[::1]', 'IPv6 loopback'],
  ['[::ffff:127.0.0.1]', 'IPv4-mapped loopback'],
  ['[::ffff:7f00:1]', 'IPv4-mapped loopback, hex'],
  ['[0:0:0:0:0:ffff:127.0.0.1]', 'IPv4-mapped loopback, long form'],
  ['[::127.0.0.1]', 'IPv4-compatible loopback'],
  ['[64:ff9b::127.0.0.1]', 'NAT64 of loopback'],
  ['[2002:7f00:1::1]', '6to4 of loopback'],
  ['0.0.0.0', 'unspecified'],
  ['0', 'unspecified, one number'],
  ['[::]', 'IPv6 unspecified'],
  ['10.0.0.1', 'private (RFC 1918)'],
  ['172.16.0.1', 'private (RFC 1918)'],
  ['192.168.1.1', 'private (RFC 1918)'],
  ['100.64.0.1', 'shared (CGNAT)'],
  ['169.254.169.254', 'link-local (cloud metadata)'],
  ['[::ffff:169.254.169.254]', 'IPv4-mapped link-local'],
  ['[64:ff9b::a9fe:a9fe]', 'NAT64 of link-local'],
  ['[2002:a9fe:a9fe::]', '6to4 of link-local'],
  ['[fe80::1]', 'IPv6 link-local'],
  ['[fc00::1]', 'IPv6 unique local'],
  ['[fd00:ec2::254]', 'IPv6 unique local (cloud metadata)'],
  ['224.0.0.1', 'multicast'],
  ['[ff02::1]', 'IPv6 multicast'],
  ['255.255.255.255', 'broadcast'],
  ['192.0.2.1', 'documentation'],
  ['198.51.100.7', 'documentation'],
  ['203.0.113.9', 'documentation'],
  ['[2001:db8::1]', 'IPv6 documentation'],
  ['198.18.0.1', 'benchmarking'],
  ['240.0.0.1', 'reserved'],
];

/** The hosts a Lightning address may name (its domain part: dotted IPv4 or a name). */
export const FORBIDDEN_ADDRESS_HOSTS = FORBIDDEN_HOSTS.filter(([host]) => /^(\d{1,3}\.){3}\d{1,3}$/.test(host));

/** Lets the old policy (fetch anything) store forbidden URLs, so a strict bridge meets them at fetch time. */
export const ALLOW_EVERYTHING = '0.0.0.0/0,::/0';

/** An HTTP server on loopback that answers 200 `{}` and counts every connection it is offered. */
export interface CountingServer {
  port: number;
  connections: number;
  requests: string[];
  close(): Promise<void>;
}

export async function startCountingServer(): Promise<CountingServer> {
  const servers: Server[] = [];
  const sockets = new Set<Socket>();
  const state: CountingServer = { port: 0, connections: 0, requests: [], close: async () => undefined };
  const make = () => {
    const server = createServer((req, res) => {
      state.requests.push(`${req.method} ${req.url}`);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
    server.on('connection', (socket: Socket) => {
      state.connections++;
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    servers.push(server);
    return server;
  };
  const v4 = make();
  await new Promise<void>((resolve) => v4.listen(0, '127.0.0.1', resolve));
  state.port = (v4.address() as AddressInfo).port;
  // The same port on ::1 when the host has IPv6, so IPv6 loopback forms would be seen too.
  const v6 = make();
  await new Promise<void>((resolve) => {
    v6.once('error', () => resolve());
    v6.listen(state.port, '::1', () => resolve());
  });
  state.close = async () => {
    for (const socket of sockets) socket.destroy();
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => (s.listening ? s.close(() => resolve()) : resolve()))));
  };
  return state;
}

/** How many outbound requests the bridge refused for `reason` (`paywire_refusals_total{component="outbound"}`). */
export async function outboundRefusals(t: TestBridge, reason: string): Promise<number> {
  const metric = await t.bridge.metrics.refusals.get();
  return metric.values.find((v) => v.labels.component === 'outbound' && v.labels.reason === reason)?.value ?? 0;
}

/**
 * The bridge's public URLs. `PUBLIC_URL` when configured; otherwise worked out once the HTTP server
 * is listening (`http://localhost:<port>`, or the bound address when it is a specific one). LNURLs,
 * Lightning addresses and QR codes are all built from here.
 */
export class PublicUrls {
  private readonly configured: string | undefined;
  private readonly lnurlPrefix: string;
  private bound: string | undefined;

  constructor(configured: string | undefined, lnurlPrefix: string) {
    this.configured = configured;
    this.lnurlPrefix = lnurlPrefix;
  }

  /** Record where the server listens (used when PUBLIC_URL is not set). */
  bind(host: string, port: number): void {
    const name = host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
    this.bound = `http://${name}:${port}`;
  }

  get base(): string {
    const base = this.configured ?? this.bound;
    if (base === undefined) throw new Error('public URL asked for before the server listens');
    return base;
  }

  /** host[:port] of the public URL: the domain part of Lightning addresses (LUD-16). */
  get host(): string {
    return new URL(this.base).host;
  }

  lnurlPay(linkId: string): string {
    return `${this.base}${this.lnurlPrefix}/pay/${linkId}`;
  }

  lnurlCallback(linkId: string): string {
    return `${this.lnurlPay(linkId)}/callback`;
  }

  addressCallback(name: string): string {
    return `${this.base}${this.lnurlPrefix}/address/${name}/callback`;
  }

  verify(paymentHash: string): string {
    return `${this.base}${this.lnurlPrefix}/verify/${paymentHash}`;
  }

  qr(linkId: string, format: 'png' | 'svg'): string {
    return `${this.lnurlPay(linkId)}/qr.${format}`;
  }

  /** LUD-16: always at the root of the host. */
  wellKnown(name: string): string {
    return `${new URL(this.base).origin}/.well-known/lnurlp/${name}`;
  }
}

/**
 * LNURL encodings and the pay request metadata. LUD-01: bech32 with hrp `lnurl` over the URL's
 * UTF-8 bytes, uppercase for QR codes; LUD-17: the `lnurlp://` scheme; LUD-06: metadata is a JSON
 * array of [mime, content] pairs whose sha256 the invoice commits to.
 */
import { createHash } from 'node:crypto';
import { bech32 } from 'bech32';

/** LNURLs are longer than bech32's default 90-character limit. */
const LNURL_MAX_LENGTH = 1023;

export function encodeLnurl(url: string): string {
  return bech32.encode('lnurl', bech32.toWords(Buffer.from(url, 'utf8')), LNURL_MAX_LENGTH).toUpperCase();
}

export function decodeLnurl(lnurl: string): string {
  const { prefix, words } = bech32.decode(lnurl.toLowerCase(), LNURL_MAX_LENGTH);
  if (prefix !== 'lnurl') throw new Error(`not an LNURL: prefix ${prefix}`);
  return Buffer.from(bech32.fromWords(words)).toString('utf8');
}

/** LUD-17: `lnurlp://host/path`, the scheme standing for https (or http on .onion). */
export function lnurlpUri(url: string): string {
  return url.replace(/^https?:\/\//, 'lnurlp://');
}

/** LUD-06 metadata (with LUD-16 `text/identifier` when reached through a Lightning address). */
export function payMetadata(description: string, identifier?: string): string {
  const entries: [string, string][] = [['text/plain', description]];
  if (identifier !== undefined) entries.push(['text/identifier', identifier]);
  return JSON.stringify(entries);
}

/** The description hash an LNURL-pay invoice must carry: sha256 of the metadata's UTF-8 bytes. */
export function metadataHash(metadata: string): string {
  return createHash('sha256').update(metadata, 'utf8').digest('hex');
}

/** LUD-16 local parts: a-z0-9-_. only. */
export const ADDRESS_NAME = /^[a-z0-9._-]{1,64}$/;

/**
 * QR codes for payment links (the `qrcode` library). The content is the LNURL in uppercase with the
 * `LIGHTNING:` scheme (LUD-01), which keeps the code in QR's compact alphanumeric mode. Rendered
 * images are cached: a link's QR never changes.
 */
import QRCode from 'qrcode';

const MAX_CACHED = 512;
const cache = new Map<string, Promise<Buffer | string>>();

function remember<T extends Buffer | string>(key: string, make: () => Promise<T>): Promise<T> {
  const hit = cache.get(key);
  if (hit) return hit as Promise<T>;
  if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value as string);
  const made = make();
  cache.set(key, made);
  made.catch(() => cache.delete(key));
  return made;
}

export function qrContent(lnurl: string): string {
  return `LIGHTNING:${lnurl.toUpperCase()}`;
}

export function qrPng(content: string): Promise<Buffer> {
  return remember(`png:${content}`, () => QRCode.toBuffer(content, { type: 'png', errorCorrectionLevel: 'M', margin: 2, width: 512 }));
}

export function qrSvg(content: string): Promise<string> {
  return remember(`svg:${content}`, () => QRCode.toString(content, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 }));
}

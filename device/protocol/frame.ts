/**
 * Frames of the Paywire serial protocol v1 (device/PROTOCOL.md): `seq ":" body "*" crc "\n"`, with a
 * CRC-16/CCITT-FALSE over everything before the `*`. Encoding for the host, parsing for both sides.
 */

/** A frame is at most 200 bytes including the `\n` (PROTOCOL.md "Framing"). */
export const MAX_FRAME_BYTES = 200;

/** Sequence markers that are not numbers: an unsolicited event, and a NAK to a frame whose seq could not be trusted. */
export const EVENT_SEQ = '~~';
export const UNTRUSTED_SEQ = '--';

export type NakReason = 'CRC' | 'FMT' | 'LEN' | 'CMD' | 'ARG';

/** CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, no reflection, no final xor (check value of "123456789": 0x29B1). */
export function crc16(bytes: Uint8Array | string): number {
  const data = typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes;
  let crc = 0xffff;
  for (const byte of data) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

export function hex2(n: number): string {
  return n.toString(16).toUpperCase().padStart(2, '0');
}

/** Arguments are printable ASCII 0x20..0x7E except `*`. */
export function validArg(arg: string): boolean {
  return /^[\x20-\x29\x2B-\x7E]*$/.test(arg);
}

/** One frame, `\n` included: `seq` is a number 0..255 or one of the two markers. */
export function encodeFrame(seq: number | typeof EVENT_SEQ | typeof UNTRUSTED_SEQ, body: string): Buffer {
  const head = `${typeof seq === 'number' ? hex2(seq & 0xff) : seq}:${body}`;
  const frame = `${head}*${crc16(head).toString(16).toUpperCase().padStart(4, '0')}\n`;
  if (frame.length > MAX_FRAME_BYTES) throw new RangeError(`frame over ${MAX_FRAME_BYTES} bytes`);
  return Buffer.from(frame, 'latin1');
}

export type ParsedFrame =
  { ok: true; seq: string; name: string; arg: string | undefined; crc: number } | { ok: false; reason: NakReason; seq: string | undefined };

/** Parse one line (without its `\n`; a trailing `\r` is ignored). */
export function parseFrame(line: string): ParsedFrame {
  const text = line.endsWith('\r') ? line.slice(0, -1) : line;
  if (text.length + 1 > MAX_FRAME_BYTES) return { ok: false, reason: 'LEN', seq: undefined };
  const star = text.lastIndexOf('*');
  if (star < 0 || text.length - star !== 5) return { ok: false, reason: 'FMT', seq: undefined };
  const head = text.slice(0, star);
  const crcText = text.slice(star + 1);
  if (!/^[0-9A-F]{4}$/.test(crcText)) return { ok: false, reason: 'FMT', seq: undefined };
  const m = /^([0-9A-F]{2}|~~|--):([A-Z]+)(?::(.*))?$/s.exec(head);
  if (!m) return { ok: false, reason: 'FMT', seq: undefined };
  const crc = parseInt(crcText, 16);
  if (crc16(head) !== crc) return { ok: false, reason: 'CRC', seq: undefined };
  const arg = m[3];
  if (arg !== undefined && !validArg(arg)) return { ok: false, reason: 'FMT', seq: m[1] };
  return { ok: true, seq: m[1]!, name: m[2]!, arg, crc };
}

/**
 * Splits a byte stream into lines: a line that overflows 200 bytes is dropped with everything up to
 * the next `\n` (PROTOCOL.md "Framing"), and reported once as `overflow`.
 */
export class LineSplitter {
  private buffer = '';
  private discarding = false;

  constructor(
    private readonly onLine: (line: string) => void,
    private readonly onOverflow: () => void,
  ) {}

  push(chunk: Buffer | string): void {
    let text = typeof chunk === 'string' ? chunk : chunk.toString('latin1');
    for (;;) {
      const nl = text.indexOf('\n');
      if (nl < 0) break;
      const piece = text.slice(0, nl);
      text = text.slice(nl + 1);
      if (this.discarding) {
        this.discarding = false;
        this.buffer = '';
        continue;
      }
      const line = this.buffer + piece;
      this.buffer = '';
      if (line.length + 1 > MAX_FRAME_BYTES) this.onOverflow();
      else this.onLine(line);
    }
    if (this.discarding) return;
    this.buffer += text;
    if (this.buffer.length >= MAX_FRAME_BYTES) {
      this.buffer = '';
      this.discarding = true;
      this.onOverflow();
    }
  }
}

/**
 * The one small interface every output driver implements: a relay that runs for a while, and a
 * display that shows the asset's payment QR, a line of text, or "paid". A driver may be both (the
 * serial peripheral of PROTOCOL.md drives a relay and a display on one cable).
 */

export interface Output {
  /** What the logs and fault reports call it, e.g. `firmata:/dev/ttyACM0:7`. */
  readonly name: string;
  /** Open the port or line; a driver that cannot start throws with a message an operator can act on. */
  start(): Promise<void>;
  /** Switch everything off and let go of the hardware. */
  stop(): Promise<void>;
}

export interface Relay extends Output {
  /**
   * Switch on for `ms` milliseconds; resolves once it is on (the pin written, or the peripheral's
   * ACK). The driver switches it off when the time is up; a new pulse while on restarts the time.
   */
  pulse(ms: number): Promise<void>;
  /** Off at once. */
  off(): Promise<void>;
}

/** What a "paid" screen may show beside the word. */
export interface PaidInfo {
  amountSats?: number;
  paymentId?: string;
}

export interface Display extends Output {
  /** Show a QR code of `text` (an uppercase LNURL); it stays until something else is shown. */
  showQr(text: string): Promise<void>;
  /** Show one line of text (a fault or license message); it stays until something else is shown. */
  showText(text: string): Promise<void>;
  /** Show "paid" for `ms`, then the last QR again (the peripheral or the driver does it). */
  showPaid(ms: number, info: PaidInfo): Promise<void>;
  clear(): Promise<void>;
}

/** A fault a driver noticed on its own (a peripheral that stopped answering), outside any command. */
export interface FaultSource {
  onFault(listener: (fault: { output: string; message: string }) => void): void;
}

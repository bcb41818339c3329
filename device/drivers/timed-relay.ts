/**
 * What every pin-driven relay shares (Firmata, GPIO, console): on at `pulse`, off when its time is
 * up, a new pulse while on restarts the time. The driver only writes the pin.
 */
import type { Relay } from '../outputs/types.js';

export abstract class TimedRelay implements Relay {
  abstract readonly name: string;
  private timer: NodeJS.Timeout | undefined;

  abstract start(): Promise<void>;
  /** Write the pin: `true` is on (the driver applies active-low wiring). */
  protected abstract write(on: boolean): void;
  protected abstract release(): Promise<void>;

  async pulse(ms: number): Promise<void> {
    clearTimeout(this.timer);
    this.write(true);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      try {
        this.write(false);
      } catch {
        // The next pulse reports the fault.
      }
    }, ms);
  }

  async off(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.write(false);
  }

  async stop(): Promise<void> {
    try {
      await this.off();
    } catch {
      // already gone
    }
    await this.release();
  }
}

/**
 * The store engine's errors. `StoreUnavailableError`: a write failed, the process must restart from the
 * disk. `StoreCorruptError`: what is on disk is not what the store expects (a damaged record, a missing
 * snapshot or log); the start is refused with nothing changed, and the message says how to recover.
 */
import { PaywireError } from '../errors.js';

export class StoreUnavailableError extends PaywireError<'store_unavailable'> {
  constructor(cause: Error) {
    super('store_unavailable', `store is unavailable: ${cause.message}`, { cause });
    this.name = 'StoreUnavailableError';
  }
}

export interface StoreCorruptDetails {
  /** The file at fault. */
  path?: string;
  /** `npm start -- journal recover` can repair it (by dropping what follows the damage, kept in a backup). */
  recoverable?: boolean;
}

export class StoreCorruptError extends PaywireError<'store_corrupt'> {
  readonly path: string | undefined;
  readonly recoverable: boolean;

  constructor(message: string, details: StoreCorruptDetails = {}) {
    super('store_corrupt', message, { details });
    this.name = 'StoreCorruptError';
    this.path = details.path;
    this.recoverable = details.recoverable ?? false;
  }
}

/** Another live process holds the store's lock. */
export class StoreInUseError extends PaywireError<'store_in_use'> {
  readonly path: string;

  constructor(message: string, path: string) {
    super('store_in_use', message, { details: { path } });
    this.name = 'StoreInUseError';
    this.path = path;
  }
}

/**
 * Group commit for event appends on PostgreSQL: appends that arrive while earlier ones are being
 * written go together, in arrival order, as one statement (one commit, one WAL flush). At most
 * `inFlight` statements run at once, so under load each carries many appends, and a lone append
 * goes at once. Each append is still all-or-nothing with its deliveries, and an external_id already
 * taken (by an earlier append, or by an earlier one in the same batch) is reported as a duplicate.
 */
import type { AppendResult } from '../../machines/store.js';
import type { DeliveryRecord, EventRecord } from '../../machines/types.js';
import { DELIVERY, EVENT, EVENT_ROW } from './columns.js';
import type { Database, Statement } from './database.js';
import { columnList, fromRow } from './rows.js';

const EVENT_COLS = columnList(EVENT);
const DELIVERY_COLS = columnList(DELIVERY);

/** The events in order, skipping taken external_ids; the deliveries of the events inserted. */
const APPEND: Statement = {
  name: 'events_append_batch',
  text: `WITH e AS (
      INSERT INTO events (${EVENT_COLS})
      SELECT ${EVENT_COLS} FROM jsonb_populate_recordset(NULL::events, $1::jsonb) WITH ORDINALITY AS r ORDER BY ordinality
      ON CONFLICT (user_id, external_id) WHERE external_id IS NOT NULL DO NOTHING
      RETURNING event_id, seq
    ), d AS (
      INSERT INTO webhook_deliveries (${DELIVERY_COLS})
      SELECT ${DELIVERY_COLS} FROM jsonb_populate_recordset(NULL::webhook_deliveries, $2::jsonb) AS x
      WHERE x.event_id IN (SELECT event_id FROM e)
    )
    SELECT event_id, seq FROM e`,
};

const BY_EXTERNAL: Statement = { name: 'events_by_external', text: 'SELECT * FROM events WHERE user_id = $1 AND external_id = $2' };

interface Pending {
  event: Omit<EventRecord, 'seq'>;
  deliveries: Omit<DeliveryRecord, 'seq'>[];
  resolve: (result: AppendResult) => void;
  reject: (err: unknown) => void;
}

export class AppendBatcher {
  private readonly db: Database;
  private readonly inFlight: number;
  private readonly maxBatch: number;
  private queue: Pending[] = [];
  private running = 0;

  constructor(db: Database, options: { inFlight: number; maxBatch?: number }) {
    this.db = db;
    this.inFlight = Math.max(1, options.inFlight);
    this.maxBatch = options.maxBatch ?? 256;
  }

  append(event: Omit<EventRecord, 'seq'>, deliveries: Omit<DeliveryRecord, 'seq'>[]): Promise<AppendResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ event, deliveries, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.queue.length > 0 && this.running < this.inFlight) {
      const batch = this.queue.splice(0, this.maxBatch);
      this.running += 1;
      void this.write(batch).finally(() => {
        this.running -= 1;
        this.pump();
      });
    }
  }

  private async write(batch: Pending[]): Promise<void> {
    let stored: Map<string, number>;
    try {
      const rows = await this.db.rows<{ event_id: string; seq: string }>(APPEND, [
        JSON.stringify(batch.map((p) => p.event)),
        JSON.stringify(batch.flatMap((p) => p.deliveries)),
      ]);
      stored = new Map(rows.map((r) => [r.event_id, Number(r.seq)]));
    } catch (err) {
      for (const p of batch) p.reject(err);
      return;
    }
    for (const p of batch) {
      const seq = stored.get(p.event.event_id);
      if (seq !== undefined) {
        p.resolve({ stored: { ...p.event, seq } as EventRecord });
        continue;
      }
      // Its external_id was taken; the holder is committed (ON CONFLICT waited for it, or it was in this batch).
      try {
        const row = (await this.db.rows(BY_EXTERNAL, [p.event.user_id, p.event.external_id]))[0];
        if (!row) throw new Error(`event ${p.event.event_id} was neither stored nor a duplicate`);
        p.resolve({ duplicate: fromRow<EventRecord>(row, EVENT_ROW) });
      } catch (err) {
        p.reject(err);
      }
    }
  }
}

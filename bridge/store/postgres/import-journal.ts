/**
 * `paywire migrate --from-journal DATA_DIR --to DATABASE_URL`: copy an embedded journal store into
 * PostgreSQL. The bridge must be stopped. The target is migrated to the current schema and must hold
 * no Paywire data; everything is copied in one transaction (all or nothing), keeping every record's
 * `seq` (so cursors handed out before stay valid) and every list's order, then the sequences are
 * moved past the copied seqs.
 */
import type { Logger } from 'pino';
import { withAssetDefaults, type AssetRecord } from '../../machines/types.js';
import { Journal } from '../journal/engine.js';
import * as C from './columns.js';
import type { Statement } from './database.js';
import { openPostgres } from './engine.js';
import { columnList, type Columns } from './rows.js';
import { X402_SETTLEMENT } from './x402-settlements-store.js';
import * as X from './x402-store.js';

interface TableCopy {
  /** The journal collection and the table: one name. */
  name: string;
  columns: Columns;
  /** Tables whose `seq` is copied (the others number `pos` in copy order). */
  seq: boolean;
  /** An identity column whose values are copied (the sequence then moves past them). */
  identity?: string;
  fix?: (doc: Record<string, unknown>) => object;
}

/** Every journal collection the stores write, in an order that keeps references pointing backwards. */
const TABLES: TableCopy[] = [
  { name: 'accounts', columns: C.ACCOUNT, seq: false },
  { name: 'api_keys', columns: C.API_KEY, seq: false },
  { name: 'assets', columns: C.ASSET, seq: false, fix: (d) => withAssetDefaults(d as unknown as AssetRecord) },
  { name: 'events', columns: C.EVENT, seq: true },
  { name: 'webhooks', columns: C.WEBHOOK, seq: false },
  { name: 'webhook_deliveries', columns: C.DELIVERY, seq: true },
  { name: 'payment_links', columns: C.LINK, seq: false },
  { name: 'payments', columns: C.PAYMENT, seq: true },
  { name: 'wallets', columns: C.WALLET, seq: false },
  { name: 'dev_invoices', columns: C.DEV_INVOICE, seq: false },
  { name: 'device_credentials', columns: C.CREDENTIAL, seq: false },
  { name: 'asset_states', columns: C.ASSET_STATE, seq: false },
  { name: 'x402_settlements', columns: X402_SETTLEMENT, seq: false },
  // The x402 facilitator's store (migration 002).
  { name: 'x402_users', columns: X.USER_ROW, seq: false, identity: 'id' },
  { name: 'x402_refresh_tokens', columns: X.REFRESH, seq: false },
  { name: 'x402_clients', columns: X.CLIENT, seq: false },
  { name: 'x402_resources', columns: X.RESOURCE_ROW, seq: false, identity: 'id' },
  { name: 'x402_request_counts', columns: X.COUNT, seq: false },
  { name: 'x402_settlement_metrics', columns: X.SETTLEMENT, seq: false },
  { name: 'x402_assets', columns: X.ASSET_ROW, seq: false, identity: 'id' },
];

const BATCH = 500;

export type CopyCounts = Record<string, number>;

export async function importJournal(options: { dataDir: string; url: string; log?: Logger }): Promise<CopyCounts> {
  const journal = new Journal({ dir: options.dataDir, ...(options.log ? { log: options.log } : {}) });
  await journal.open();
  try {
    const pg = await openPostgres({ url: options.url, poolSize: 1, ...(options.log ? { log: options.log } : {}) });
    try {
      return await pg.db.transaction(async (q) => {
        for (const t of TABLES) {
          const rows = await q.rows({ name: `import_probe_${t.name}`, text: `SELECT 1 FROM ${t.name} LIMIT 1` }, []);
          if (rows.length > 0) throw new Error(`the target database already holds Paywire data (table ${t.name} is not empty): migrate into an empty one`);
        }
        const counts: CopyCounts = {};
        for (const t of TABLES) {
          const cols = columnList(t.seq ? { seq: 'num', ...t.columns } : t.columns);
          const statement: Statement = {
            name: `import_${t.name}`,
            text: `INSERT INTO ${t.name} (${cols}) SELECT ${cols} FROM jsonb_populate_recordset(NULL::${t.name}, $1::jsonb)`,
          };
          let batch: object[] = [];
          let count = 0;
          const flush = async () => {
            if (batch.length === 0) return;
            await q.rows(statement, [JSON.stringify(batch)]);
            count += batch.length;
            batch = [];
          };
          for (const doc of journal.values<Record<string, unknown>>(t.name)) {
            batch.push(t.fix ? t.fix(doc) : doc);
            if (batch.length === BATCH) await flush();
          }
          await flush();
          // The next seq (and pos) the database hands out comes after every copied one.
          const sequenced = t.seq ? ['seq'] : 'pos' in (await columnsOf(q, t.name)) ? ['pos'] : [];
          for (const column of t.identity ? [...sequenced, t.identity] : sequenced) {
            await q.rows(
              {
                name: `import_setval_${t.name}_${column}`,
                text: `SELECT setval(pg_get_serial_sequence('${t.name}', '${column}'), COALESCE((SELECT max(${column}) FROM ${t.name}), 0) + 1, false)`,
              },
              [],
            );
          }
          counts[t.name] = count;
        }
        return counts;
      });
    } finally {
      await pg.close();
    }
  } finally {
    await journal.close();
  }
}

async function columnsOf(q: { rows<R>(s: Statement, v: unknown[]): Promise<R[]> }, table: string): Promise<Record<string, true>> {
  const rows = await q.rows<{ column_name: string }>(
    { name: 'import_columns', text: 'SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1' },
    [table],
  );
  return Object.fromEntries(rows.map((r) => [r.column_name, true as const]));
}

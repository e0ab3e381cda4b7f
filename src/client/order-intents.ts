import pg from 'pg';
import type { StoredValue } from '../codec/stored-payloads';
import type { Logger } from '../observability/logger';
import type { FulfillOrderInput } from '../workflows/fulfill-order.workflow';

/**
 * The durable record of an order, written before the fast path's charge leaves (PostgreSQL): with it,
 * `startOrder` (with `directCalls`) sends the charge and starts the workflow at the same time, instead of
 * one after the other, and nothing is lost whichever of the two a crash interrupts.
 *
 * - The first call for an order inserts its row (one INSERT, committed before anything is sent). The row
 *   holds the workflow's start exactly as it is made (the input, the send's deadline): whoever starts the
 *   workflow (this call, a repeat call, the relay) starts the same one.
 * - A repeat call finds the row and sends nothing: it attaches to the workflow with the row's start.
 * - The relay (every client with this store runs one) starts the workflow of each row nobody marked started
 *   within `graceMs` (its service died between the INSERT and the start, or Temporal was unreachable). The
 *   workflow's charge step then sends the same request with the same key at the send's deadline: the
 *   provider applies it once and replays it.
 * - Rows are kept `keepDays` (they say which orders exist, so a repeat call never charges anew): keep them
 *   at least as long as the namespace keeps closed workflows.
 *
 * Every service that starts orders must go through the same store: an order started without it is not
 * known here, and a later call with the store would send its charge before learning the order existed.
 * With payload encryption, the row holds the start encrypted with the same codec as the history.
 */
export interface OrderIntentsOptions {
  /** `postgres://user[:password]@host:port/database`; may carry a password: never logged. */
  url: string;
  /** @default order_intents */
  table?: string;
  /** @default 4 */
  poolSize?: number;
  /** A row not marked started this long after its INSERT is started by the relay. @default 10000 ms */
  graceMs?: number;
  /** How often the relay looks for such rows. @default 2000 ms */
  pollMs?: number;
  /** @default 30 */
  keepDays?: number;
  logger: Logger;
}

/** A workflow start as recorded with its order: what any starter passes to `fulfillOrder`. */
export interface RecordedStart {
  args: [FulfillOrderInput];
  staticSummary: string;
}

/**
 * The first call records the order; any other gets the start the first one recorded. The record is stored
 * as the client hands it over: a `RecordedStart` through the client's payload codecs (`toStored`), so with
 * payload encryption the row is encrypted like the history.
 */
export type IntentClaim = { first: true } | { first: false; start: StoredValue };

const safeTable = /^[a-z_][a-z0-9_]{0,62}$/;
const PRUNE_EVERY_MS = 3_600_000;

export class OrderIntents {
  private readonly pool: pg.Pool;
  private readonly table: string;
  private readonly graceMs: number;
  private readonly pollMs: number;
  private readonly keepDays: number;
  private timer?: NodeJS.Timeout;
  private relaying?: Promise<void>;
  private lastPrune = 0;
  private closed = false;
  readonly logger: Logger;

  constructor(private readonly options: OrderIntentsOptions) {
    this.logger = options.logger;
    this.table = options.table ?? 'order_intents';
    if (!safeTable.test(this.table))
      throw new Error(`order intents table name must match ${safeTable}, got ${this.table}`);
    this.graceMs = options.graceMs ?? 10_000;
    this.pollMs = options.pollMs ?? 2_000;
    this.keepDays = options.keepDays ?? 30;
    if (!(this.keepDays > 0)) throw new Error(`order intents: keepDays must be positive, got ${this.keepDays}`);
    this.pool = new pg.Pool({ connectionString: options.url, max: options.poolSize ?? 4 });
    // An idle client's error (the server restarted) must not crash the process: the next query reconnects.
    this.pool.on('error', (err) => options.logger.warn({ error: err.message }, 'order intents: idle connection lost'));
  }

  /** Creates the table when missing; says so when the store cannot be reached. */
  async ensureSchema(): Promise<void> {
    await this.pool
      .query(
        `CREATE TABLE IF NOT EXISTS ${this.table} (
         workflow_id text PRIMARY KEY,
         start jsonb NOT NULL,
         created_at timestamptz NOT NULL DEFAULT now(),
         started_at timestamptz,
         attempts integer NOT NULL DEFAULT 0,
         last_error text
       )`,
      )
      .catch((err: Error) => {
        throw new Error(
          `order intents: the PostgreSQL store cannot be used (${err.message}); check its URL and that the database is up`,
        );
      });
  }

  /** Records the order (committed when this resolves), or answers the start an earlier call recorded. */
  async claim(workflowId: string, start: StoredValue): Promise<IntentClaim> {
    const inserted = await this.pool.query(
      `INSERT INTO ${this.table} (workflow_id, start) VALUES ($1, $2) ON CONFLICT (workflow_id) DO NOTHING RETURNING workflow_id`,
      [workflowId, JSON.stringify(start)],
    );
    if (inserted.rowCount) return { first: true };
    const existing = await this.pool.query<{ start: StoredValue }>(
      `SELECT start FROM ${this.table} WHERE workflow_id = $1`,
      [workflowId],
    );
    const row = existing.rows[0];
    // Pruned between the two statements (older than keepDays): the caller goes the attached way with its own.
    return { first: false, start: row ? row.start : start };
  }

  /** Temporal has the workflow: the relay leaves the row alone. Best effort (the relay's start is harmless). */
  async markStarted(workflowId: string): Promise<void> {
    await this.pool
      .query(`UPDATE ${this.table} SET started_at = now() WHERE workflow_id = $1 AND started_at IS NULL`, [workflowId])
      .catch((err: Error) => this.options.logger.warn({ workflowId, error: err.message }, 'order intents: not marked'));
  }

  /** Rows not marked started (the relay's, once older than the grace). */
  async unstarted(): Promise<number> {
    const result = await this.pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM ${this.table} WHERE started_at IS NULL`,
    );
    return Number(result.rows[0]?.n ?? 0);
  }

  /**
   * Starts the relay: every `pollMs`, each row unmarked for `graceMs` is started through `start`
   * (which must treat "already started" as success) and marked; a refused start stays, counted, retried.
   */
  startRelay(start: (workflowId: string, recorded: StoredValue) => Promise<void>): void {
    if (this.timer || this.closed) return;
    const tick = () => {
      this.relaying = this.relayOnce(start)
        .then(() => undefined)
        .catch((err: Error) => this.options.logger.warn({ error: err.message }, 'order intents: relay failed'))
        .finally(() => {
          if (!this.closed) this.timer = setTimeout(tick, this.pollMs);
        });
    };
    this.timer = setTimeout(tick, this.pollMs);
  }

  /** One pass of the relay; returns how many workflows it started. */
  async relayOnce(start: (workflowId: string, recorded: StoredValue) => Promise<void>): Promise<number> {
    const client = await this.pool.connect();
    let started = 0;
    try {
      await client.query('BEGIN');
      const claimed = await client.query<{ workflow_id: string; start: StoredValue }>(
        `SELECT workflow_id, start FROM ${this.table}
          WHERE started_at IS NULL AND created_at < now() - make_interval(secs => $1)
          ORDER BY attempts, created_at LIMIT 64 FOR UPDATE SKIP LOCKED`,
        [this.graceMs / 1_000],
      );
      for (const row of claimed.rows) {
        try {
          await start(row.workflow_id, row.start);
          await client.query(`UPDATE ${this.table} SET started_at = now() WHERE workflow_id = $1`, [row.workflow_id]);
          started += 1;
          this.options.logger.warn(
            { event: 'order.intent_relayed', workflowId: row.workflow_id },
            'order intents: started an order its service did not (it died or Temporal was unreachable)',
          );
        } catch (err) {
          await client.query(
            `UPDATE ${this.table} SET attempts = attempts + 1, last_error = $2 WHERE workflow_id = $1`,
            [row.workflow_id, (err as Error).message],
          );
          this.options.logger.error(
            { event: 'order.intent_relay_failed', workflowId: row.workflow_id, error: (err as Error).message },
            'order intents: start not accepted; the row stays and is retried',
          );
        }
      }
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
    if (Date.now() - this.lastPrune > PRUNE_EVERY_MS) {
      this.lastPrune = Date.now();
      await this.pool.query(
        `DELETE FROM ${this.table} WHERE started_at IS NOT NULL AND created_at < now() - make_interval(days => $1)`,
        [this.keepDays],
      );
    }
    return started;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.relaying;
    await this.pool.end();
  }
}

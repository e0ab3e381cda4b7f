import type { DataConverter } from '@temporalio/common';
import pg from 'pg';
import { fromStored, toStored, type StoredValue } from '../codec/stored-payloads';
import type { Logger } from '../observability/logger';
import type { WebhookEventInput } from '../workflows/process-webhook-event.workflow';
import type { StartOutcome } from './temporal-starter';

/**
 * A durable local outbox for verified webhook events, in PostgreSQL: the receiver acknowledges once the
 * event's row is committed (one INSERT, no Temporal round trip in the request), and a relay in the same
 * process drains the rows into Temporal, starting `processWebhookEvent` with the event's workflow ID.
 *
 * - Nothing is lost: a row is committed before the 2xx and deleted only once Temporal has the workflow
 *   (started, or already started). A receiver that dies leaves its rows; any relay on the same table
 *   (every receiver runs one) picks them up: rows are claimed with `FOR UPDATE SKIP LOCKED`.
 * - Duplicates are processed once: a redelivery while the event waits in the outbox hits the primary
 *   key (answered `duplicate`); one after the row was relayed is stored again, and its start finds the
 *   workflow ID taken (Temporal's `REJECT_DUPLICATE`), so nothing new runs.
 * - The row holds the event as the workflow input, through the receiver's payload codecs
 *   (src/codec/stored-payloads.ts): encrypted like the history when payload encryption is on.
 */
export interface WebhookOutboxOptions {
  /** `postgres://user[:password]@host:port/database`; may carry a password: never logged. */
  url: string;
  /** @default webhook_outbox */
  table?: string;
  /** Connections for the receiver's INSERTs and the relay. @default 8 */
  poolSize?: number;
  /** INSERTs in flight at once; events arriving meanwhile share the next one. @default 4 */
  maxInserts?: number;
  /** Rows the relay hands to Temporal at once (started concurrently). @default 64 */
  batchSize?: number;
  /** How often the relay looks for rows it was not told about (a peer's, or left after a failure). @default 1000 ms */
  pollMs?: number;
  /** The receiver's payload codecs (the workers'): rows are stored through them. @default plain */
  dataConverter?: DataConverter;
  logger: Logger;
}

export interface OutboxStats {
  stored: number;
  duplicates: number;
  relayed: number;
  relayDuplicates: number;
  relayFailures: number;
  /** Events set aside after Temporal refused their start for good (the Redis outbox; PostgreSQL retries them). */
  parked: number;
}

/** Every count at zero: where an outbox's statistics start. */
export const noOutboxStats = (): OutboxStats => ({
  stored: 0,
  duplicates: 0,
  relayed: 0,
  relayDuplicates: 0,
  relayFailures: 0,
  parked: 0,
});

/** An event as an outbox stores it: through the payload codecs, so encrypted when the histories are. */
export const storedEvent = (dataConverter: DataConverter | undefined, event: WebhookEventInput) =>
  toStored(dataConverter, event);

/**
 * The start of a stored event. One that cannot be decoded (its key is not among this process's
 * PAYLOAD_ENCRYPTION_KEYS) is kept and retried, not dropped: adding the key lets it through.
 */
export async function startStored(
  dataConverter: DataConverter | undefined,
  stored: StoredValue,
  workflowId: string,
  start: (event: WebhookEventInput) => Promise<StartOutcome>,
): Promise<StartOutcome> {
  let event: WebhookEventInput;
  try {
    event = await fromStored<WebhookEventInput>(dataConverter, stored);
  } catch (err) {
    return {
      kind: 'unavailable',
      workflowId,
      error: `stored event cannot be decoded (${(err as Error).message}); give this receiver the writer's PAYLOAD_ENCRYPTION_KEYS`,
    };
  }
  return start(event);
}

/**
 * Where the receiver puts a verified event before acknowledging it, and the relay that starts its workflow:
 * this PostgreSQL outbox or the Redis one (src/webhooks/redis-outbox.ts), chosen by the URL's scheme.
 */
export interface EventOutbox {
  /** Creates what is missing (the table) or checks the store, before the receiver listens. */
  ensureSchema(): Promise<void>;
  /** Stores the event durably (as durable as the store) before it resolves `started` or `duplicate`. */
  put(event: WebhookEventInput, workflowId: string): Promise<StartOutcome>;
  startRelay(start: (event: WebhookEventInput) => Promise<StartOutcome>): void;
  /** Events stored and not relayed yet. */
  pending(): Promise<number>;
  stats(): OutboxStats;
  close(): Promise<void>;
}

const safeTable = /^[a-z_][a-z0-9_]{0,62}$/;

export class WebhookOutbox implements EventOutbox {
  private readonly pool: pg.Pool;
  private readonly table: string;
  private readonly batchSize: number;
  private readonly maxInserts: number;
  private readonly pollMs: number;
  private starter?: (event: WebhookEventInput) => Promise<StartOutcome>;
  private running = false;
  private loop?: Promise<void>;
  private wake?: () => void;
  private kicked = false;
  private readonly counts = noOutboxStats();

  constructor(private readonly options: WebhookOutboxOptions) {
    this.table = options.table ?? 'webhook_outbox';
    if (!safeTable.test(this.table)) throw new Error(`outbox table name must match ${safeTable}, got ${this.table}`);
    this.batchSize = options.batchSize ?? 64;
    this.maxInserts = Math.max(1, options.maxInserts ?? 4);
    this.pollMs = options.pollMs ?? 1_000;
    this.pool = new pg.Pool({ connectionString: options.url, max: options.poolSize ?? 8 });
    // An idle client's error (the server restarted) must not crash the process: the next query reconnects.
    this.pool.on('error', (err) => options.logger.warn({ error: err.message }, 'webhook outbox: idle connection lost'));
  }

  /** Creates the table when missing. */
  async ensureSchema(): Promise<void> {
    await this.pool.query(
      `CREATE TABLE IF NOT EXISTS ${this.table} (
         workflow_id text PRIMARY KEY,
         event jsonb NOT NULL,
         received_at timestamptz NOT NULL DEFAULT now(),
         attempts integer NOT NULL DEFAULT 0,
         last_error text
       )`,
    );
  }

  /**
   * Stores a verified event durably (committed when this resolves). Under load, events that arrive while
   * `maxInserts` INSERTs are in flight go together in the next one: one commit (one WAL flush) for many.
   */
  async put(event: WebhookEventInput, workflowId: string): Promise<StartOutcome> {
    let stored: string;
    try {
      stored = JSON.stringify(await storedEvent(this.options.dataConverter, event));
    } catch (err) {
      return {
        kind: 'unavailable',
        workflowId,
        error: `webhook outbox: cannot encode the event: ${(err as Error).message}`,
      };
    }
    return new Promise((resolve) => {
      this.waiting.push({ workflowId, event: stored, resolve });
      this.flush();
    });
  }

  private readonly waiting: { workflowId: string; event: string; resolve: (o: StartOutcome) => void }[] = [];
  private inserting = 0;

  private flush(): void {
    while (this.waiting.length > 0 && this.inserting < this.maxInserts) {
      const batch = this.waiting.splice(0, 500);
      this.inserting += 1;
      void this.insert(batch).finally(() => {
        this.inserting -= 1;
        this.flush();
      });
    }
  }

  private async insert(batch: { workflowId: string; event: string; resolve: (o: StartOutcome) => void }[]) {
    try {
      const values = batch.map((_, i) => `($${2 * i + 1}, $${2 * i + 2})`).join(', ');
      const result = await this.pool.query<{ workflow_id: string }>(
        `INSERT INTO ${this.table} (workflow_id, event) VALUES ${values} ON CONFLICT (workflow_id) DO NOTHING RETURNING workflow_id`,
        batch.flatMap((b) => [b.workflowId, b.event]),
      );
      // The same event twice in one batch: the first is the stored one, the second a duplicate.
      const inserted = new Set(result.rows.map((r) => r.workflow_id));
      for (const b of batch) {
        const stored = inserted.delete(b.workflowId);
        this.counts[stored ? 'stored' : 'duplicates'] += 1;
        b.resolve({ kind: stored ? 'started' : 'duplicate', workflowId: b.workflowId });
      }
      if (result.rows.length > 0) this.kick();
    } catch (err) {
      for (const b of batch) {
        b.resolve({
          kind: 'unavailable',
          workflowId: b.workflowId,
          error: `webhook outbox: ${(err as Error).message}`,
        });
      }
    }
  }

  /** Starts the relay: each stored row becomes a workflow start through `start`. */
  startRelay(start: (event: WebhookEventInput) => Promise<StartOutcome>): void {
    if (this.running) return;
    this.starter = start;
    this.running = true;
    this.loop = this.relay();
  }

  /** Rows still waiting to be relayed. */
  async pending(): Promise<number> {
    const result = await this.pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${this.table}`);
    return Number(result.rows[0]?.n ?? 0);
  }

  stats(): OutboxStats {
    return { ...this.counts };
  }

  async close(): Promise<void> {
    this.running = false;
    this.kick();
    await this.loop;
    await this.pool.end();
  }

  private kick(): void {
    this.kicked = true;
    this.wake?.();
  }

  private async relay(): Promise<void> {
    let backoffMs = 0;
    while (this.running) {
      let drained = 0;
      try {
        drained = await this.relayBatch();
        backoffMs = 0;
      } catch (err) {
        backoffMs = Math.min(5_000, Math.max(200, backoffMs * 2));
        this.options.logger.warn(
          { error: (err as Error).message, retryInMs: backoffMs },
          'webhook outbox: relay failed',
        );
      }
      if (!this.running) break;
      if (drained === this.batchSize && backoffMs === 0) continue; // more are waiting
      if (this.kicked && backoffMs === 0) {
        this.kicked = false;
        continue;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, backoffMs || this.pollMs);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.wake = done;
      });
      this.wake = undefined;
      this.kicked = false;
    }
  }

  /** Claims up to a batch of rows, starts their workflows, deletes those Temporal has. Returns rows claimed. */
  private async relayBatch(): Promise<number> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const claimed = await client.query<{ workflow_id: string; event: StoredValue }>(
        // Fewest attempts first: rows Temporal keeps refusing (a poison event) go behind the fresh ones, so
        // a batch's worth of them cannot hold the others back.
        `SELECT workflow_id, event FROM ${this.table} ORDER BY attempts, received_at LIMIT $1 FOR UPDATE SKIP LOCKED`,
        [this.batchSize],
      );
      const outcomes = await Promise.all(
        claimed.rows.map((row) => startStored(this.options.dataConverter, row.event, row.workflow_id, this.starter!)),
      );
      const done: string[] = [];
      let failure: string | undefined;
      outcomes.forEach((outcome, i) => {
        const id = claimed.rows[i]!.workflow_id;
        if (outcome.kind === 'started' || outcome.kind === 'duplicate') {
          done.push(id);
          this.counts[outcome.kind === 'started' ? 'relayed' : 'relayDuplicates'] += 1;
        } else {
          this.counts.relayFailures += 1;
          failure ??= outcome.error;
          this.options.logger[outcome.kind === 'failed' ? 'error' : 'warn'](
            { event: 'webhook.outbox_relay_failed', workflowId: id, error: outcome.error },
            'webhook outbox: start not accepted; the row stays and is retried',
          );
        }
      });
      if (done.length) await client.query(`DELETE FROM ${this.table} WHERE workflow_id = ANY($1)`, [done]);
      const failed = claimed.rows.map((r) => r.workflow_id).filter((id) => !done.includes(id));
      if (failed.length) {
        await client.query(
          `UPDATE ${this.table} SET attempts = attempts + 1, last_error = $2 WHERE workflow_id = ANY($1)`,
          [failed, failure ?? 'unknown'],
        );
      }
      await client.query('COMMIT');
      // Back off only when nothing went through (Temporal down, or only refused rows left).
      if (failed.length && done.length === 0) {
        throw new Error(`${failed.length} of ${claimed.rows.length} starts not accepted: ${failure}`);
      }
      return claimed.rows.length;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }
}

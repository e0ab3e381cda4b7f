import { Context } from '@temporalio/activity';
import { Pool } from 'pg';
import { configSchema } from '../config/config';
import {
  crm,
  MAX_PAGE_SIZE,
  type Customer,
  type CustomerPage,
  type CustomerTier,
} from '../integrations/crm/crm.integration';
import type { CallContext, IntegrationEngine } from '../integrations/runtime/engine';

/**
 * Background sync of CRM customers into a local PostgreSQL table, and the read user flows make
 * instead of calling the CRM. The sync pages through `crm.listCustomers` inside one heartbeating
 * activity execution; the heartbeat carries the next page's cursor, so a retried execution (worker
 * crash, a page that failed) continues from there instead of page 1.
 */

/** What each heartbeat records: the cursor of the next page to fetch and how many rows are stored. */
export interface CrmSyncProgress {
  /** Cursor of the next page; null when the next page is the first. */
  cursor: string | null;
  /** Customer rows written so far, by every attempt (a page rewritten after a crash counts again). */
  stored: number;
  /** Pages fetched so far, by every attempt of this sync. */
  pages: number;
}

export interface CrmSyncInput {
  /** Customers per page, at most the provider's cap (100). @default 100 */
  pageSize?: number;
}

export interface CrmSyncResult {
  /** Customers upserted by the whole sync (every attempt). */
  stored: number;
  /** Pages fetched by the whole sync (every attempt). */
  pages: number;
  /** Where the attempt that finished started: null when it started from page 1. */
  resumedFrom: { attempt: number; cursor: string; stored: number } | null;
}

/** A customer as the local store keeps it. */
export interface LocalCustomer {
  id: string;
  name: string;
  email: string;
  tier: CustomerTier;
  notes: string | null;
  /** When the sync last wrote this row (ISO 8601): how stale a read may be. */
  syncedAt: string;
}

export interface LocalCustomerStoreOptions {
  /** A `postgres://` URL (config `LOCAL_STORE_URL`); it may carry a password, so it is never logged. */
  connectionString: string;
  /** Connections kept open to the store. @default 4 */
  maxConnections?: number;
}

/**
 * The local store: the table `crm_customers`, created when missing (migrations-lite: `CREATE TABLE IF
 * NOT EXISTS`). Connections open on first use and idle ones close by themselves, so an unused store
 * costs nothing and does not keep the process alive.
 */
export class LocalCustomerStore {
  private readonly pool: Pool;
  private schemaReady?: Promise<void>;

  constructor(options: LocalCustomerStoreOptions) {
    this.pool = new Pool({
      connectionString: options.connectionString,
      max: options.maxConnections ?? 4,
      idleTimeoutMillis: 10_000,
      connectionTimeoutMillis: 5_000,
      allowExitOnIdle: true,
    });
    // An idle connection the server dropped must not crash the worker; the next query reconnects.
    this.pool.on('error', () => undefined);
  }

  /** The store named by config `LOCAL_STORE_URL` (its default when unset). */
  static fromEnv(env: NodeJS.ProcessEnv = process.env): LocalCustomerStore {
    const url = configSchema.shape.LOCAL_STORE_URL.parse(env.LOCAL_STORE_URL || undefined);
    // The value may hold a password: the error names the variable, never echoes it.
    if (!/^postgres(ql)?:\/\/[^/\s]+/.test(url) || !URL.canParse(url)) {
      throw new Error(
        'LOCAL_STORE_URL: expected a postgres:// URL, e.g. postgres://user@host:5432/db (see .env.example)',
      );
    }
    return new LocalCustomerStore({ connectionString: url });
  }

  /** Writes one page in one statement: a page is stored whole or not at all, and rewriting it is harmless. */
  async upsert(customers: readonly Customer[]): Promise<void> {
    if (customers.length === 0) return;
    await this.ready();
    await this.pool.query(
      `INSERT INTO crm_customers (id, name, email, tier, notes, synced_at)
       SELECT id, name, email, tier, notes, now()
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) AS t(id, name, email, tier, notes)
       ON CONFLICT (id) DO UPDATE
         SET name = EXCLUDED.name, email = EXCLUDED.email, tier = EXCLUDED.tier, notes = EXCLUDED.notes,
             synced_at = EXCLUDED.synced_at`,
      [
        customers.map((c) => c.id),
        customers.map((c) => c.name),
        customers.map((c) => c.email),
        customers.map((c) => c.tier),
        customers.map((c) => c.notes ?? null),
      ],
    );
  }

  /** One customer, or null when the sync has not stored it. */
  async get(id: string): Promise<LocalCustomer | null> {
    await this.ready();
    const { rows } = await this.pool.query<{
      id: string;
      name: string;
      email: string;
      tier: CustomerTier;
      notes: string | null;
      synced_at: Date;
    }>('SELECT id, name, email, tier, notes, synced_at FROM crm_customers WHERE id = $1', [id]);
    const row = rows[0];
    if (!row) return null;
    const { synced_at: syncedAt, ...customer } = row;
    return { ...customer, syncedAt: syncedAt.toISOString() };
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  private ready(): Promise<void> {
    this.schemaReady ??= this.pool
      .query(
        `CREATE TABLE IF NOT EXISTS crm_customers (
           id text PRIMARY KEY,
           name text NOT NULL,
           email text NOT NULL,
           tier text NOT NULL,
           notes text,
           synced_at timestamptz NOT NULL DEFAULT now()
         )`,
      )
      .then(
        () => undefined,
        (err: unknown) => {
          this.schemaReady = undefined; // try again on the next call (the database may come back)
          throw err;
        },
      );
    return this.schemaReady;
  }
}

export interface CrmSyncActivityOptions {
  /** Makes the CRM calls (classification, controls, logging), the same instance as every other activity. */
  runtime: IntegrationEngine;
  store: LocalCustomerStore;
}

/** Activities on the `integration-crm` queue, beside the declared endpoints. */
export function createCrmSyncActivities({ runtime, store }: CrmSyncActivityOptions) {
  return {
    /**
     * Stores every CRM customer locally. One page per call, each classified like any other call; a
     * failed page fails this attempt (Temporal owns retries) and the next attempt resumes from the
     * heartbeated cursor. Needs a heartbeat timeout, so a crashed worker is noticed and the work moves.
     */
    async crmSyncCustomers(input: CrmSyncInput = {}): Promise<CrmSyncResult> {
      const ctx = Context.current();
      const limit = Math.min(Math.max(1, Math.floor(input.pageSize ?? MAX_PAGE_SIZE)), MAX_PAGE_SIZE);
      const saved = ctx.info.heartbeatDetails as CrmSyncProgress | undefined;
      const progress: CrmSyncProgress = saved ?? { cursor: null, stored: 0, pages: 0 };
      const resumedFrom =
        saved?.cursor != null ? { attempt: ctx.info.attempt, cursor: saved.cursor, stored: saved.stored } : null;
      if (resumedFrom) ctx.log.info('resuming CRM sync from the heartbeated cursor', { ...resumedFrom });
      for (;;) {
        const page = (await runtime.call(
          crm,
          'listCustomers',
          { query: { limit, ...(progress.cursor ? { cursor: progress.cursor } : {}) } },
          callContext(ctx),
        )) as CustomerPage;
        await store.upsert(page.items);
        progress.stored += page.items.length;
        progress.pages += 1;
        progress.cursor = page.nextCursor;
        // After the rows are committed: a crash before this line refetches the page and rewrites it, harmlessly.
        ctx.heartbeat(progress);
        if (page.nextCursor === null) return { stored: progress.stored, pages: progress.pages, resumedFrom };
      }
    },

    /** A customer from the local store (no provider call, so no provider latency); null when not synced. */
    async localCustomer(id: string): Promise<LocalCustomer | null> {
      return store.get(id);
    },
  };
}

export type CrmSyncActivities = ReturnType<typeof createCrmSyncActivities>;

function callContext(ctx: Context): CallContext {
  return {
    attempt: ctx.info.attempt,
    workflowId: ctx.info.workflowExecution?.workflowId,
    activityId: ctx.info.activityId,
    signal: ctx.cancellationSignal,
  };
}

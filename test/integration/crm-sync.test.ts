import { Client as PgClient } from 'pg';
import { createActivities } from '../../src/activities';
import { LocalCustomerStore, type CrmSyncResult } from '../../src/activities/crm-sync.activities';
import { IntegrationEngine } from '../../src/integrations/runtime/engine';
import { fakeCustomer } from '../../src/sandbox/crm';
import { WORKFLOWS_TASK_QUEUE } from '../../src/contracts/task-queues';
import type { SyncCrmCustomersInput, syncCrmCustomers } from '../../src/workflows/sync-crm.workflow';
import { sandboxAdmin } from '../support/sandbox';
import { testLogger } from '../support/stack';
import { uniqueId, withWorkers } from '../support/temporal';

// A schema of its own per run (dropped afterwards): the store's table is always `crm_customers`,
// found through the connection's search_path.
const schema = `crm_sync_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
const databaseUrl = 'postgres://postgres@127.0.0.1:5432/test';
const storeUrl = `${databaseUrl}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
const LIST = 'GET /crm/customers';

describe('CRM sync into the local PostgreSQL store', () => {
  const admin = new PgClient({ connectionString: databaseUrl });
  const previousUrl = process.env.LOCAL_STORE_URL;

  beforeAll(async () => {
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${schema}`);
    process.env.LOCAL_STORE_URL = storeUrl; // the workers' activities read it, as a worker reads its config
  });
  afterAll(async () => {
    if (previousUrl === undefined) delete process.env.LOCAL_STORE_URL;
    else process.env.LOCAL_STORE_URL = previousUrl;
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
  });
  beforeEach(async () => {
    await admin.query(`DROP TABLE IF EXISTS ${schema}.crm_customers`);
  });
  afterEach(() => sandboxAdmin.clearFaults());

  async function sync(input: SyncCrmCustomersInput): Promise<CrmSyncResult> {
    return withWorkers(({ client }) =>
      client.workflow.execute<typeof syncCrmCustomers>('syncCrmCustomers', {
        workflowId: uniqueId('sync-crm'),
        taskQueue: WORKFLOWS_TASK_QUEUE,
        args: [input],
      }),
    );
  }

  async function storedIds(): Promise<string[]> {
    const { rows } = await admin.query<{ id: string }>(`SELECT id FROM ${schema}.crm_customers ORDER BY id`);
    return rows.map((r) => r.id);
  }

  const allIds = Array.from({ length: 250 }, (_, i) => `cus_${String(i + 1).padStart(4, '0')}`);

  it('stores all 250 sandbox customers, creating the table when it is missing', async () => {
    const result = await sync({ pageSize: 100 });
    expect(result).toEqual({ stored: 250, pages: 3, resumedFrom: null });
    expect(await storedIds()).toEqual(allIds);
    const { rows } = await admin.query(`SELECT name, email, tier FROM ${schema}.crm_customers WHERE id = 'cus_0250'`);
    const { name, email, tier } = fakeCustomer('cus_0250');
    expect(rows).toEqual([{ name, email, tier }]);
  });

  it('resumes from the heartbeated cursor after an attempt fails on page 3, instead of starting from page 1', async () => {
    // Rules apply in order: two pages pass untouched, the third answers 500, the rest pass.
    await sandboxAdmin.fault({ method: 'GET', path: '/crm/customers', fault: 'latency', params: { ms: 0 }, times: 2 });
    await sandboxAdmin.fault({
      method: 'GET',
      path: '/crm/customers',
      fault: 'status',
      params: { code: 500 },
      times: 1,
    });
    const before = (await sandboxAdmin.stats()).requests[LIST] ?? 0;

    const result = await sync({ pageSize: 50 });

    expect(result).toEqual({
      stored: 250,
      pages: 5,
      resumedFrom: { attempt: 2, cursor: expect.any(String) as string, stored: 100 },
    });
    // Pages 1-2, the failed page 3, then pages 3-5 again: 6 requests. From page 1 it would take 8.
    expect(((await sandboxAdmin.stats()).requests[LIST] ?? 0) - before).toBe(6);
    expect(await storedIds()).toEqual(allIds);
  });

  it('serves user flows from the local store: localCustomer returns the stored row, null for one never synced', async () => {
    await sync({ pageSize: 100 });
    const store = new LocalCustomerStore({ connectionString: storeUrl });
    const runtime = new IntegrationEngine({ logger: testLogger() });
    try {
      // The function the CRM worker registers; it reads the store only, so it runs without a Temporal context.
      const { localCustomer } = createActivities(runtime, { localStore: store }).crm as {
        localCustomer: (id: string) => Promise<unknown>;
      };
      const { id, name, email, tier } = fakeCustomer('cus_0001');
      expect(await localCustomer('cus_0001')).toEqual({
        id,
        name,
        email,
        tier,
        notes: null,
        syncedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) as string,
      });
      expect(await localCustomer('cus_9999')).toBeNull();
    } finally {
      await runtime.close();
      await store.close();
    }
  });
});

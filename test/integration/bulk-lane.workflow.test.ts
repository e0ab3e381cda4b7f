import { IntegrationsClient } from '../../src/client';
import { bulkBatchWorkflowId, type BulkBatchSummary, type SendInBulkInput } from '../../src/contracts/bulk-lane';
import { WORKFLOWS_TASK_QUEUE } from '../../src/contracts/task-queues';
import { parkedState, resolveParked } from '../../src/contracts/messages';
import type { ServiceProcess } from '../../src/devserver/service-process';
import { workerProcess } from '../support/worker-process';
import { sandboxAdmin } from '../support/sandbox';
import { testEnv, uniqueId, withWorkers } from '../support/temporal';
import { startBulk } from '../../src/client/bulk-lane';
import { waitFor } from '../support/wait';

/** `count` charges, one per row, each its own order. */
const chargeItems = (batchId: string, count: number) =>
  Array.from({ length: count }, (_, i) => ({
    key: `row-${i}`,
    body: { orderId: `${batchId}-${i}`, amount: 100 + i, currency: 'EUR' },
  }));

/** The payments the sandbox's ledger holds under a batch's keys (`<batch workflow ID>:`). */
const chargesUnder = async (prefix: string) =>
  (await sandboxAdmin.ledger()).filter((e) => e.effect === 'payment.created' && e.idempotencyKey?.startsWith(prefix));

describe('the bulk lane with a worker killed mid-batch', () => {
  afterAll(() => sandboxAdmin.clearFaults());

  it('finishes the batch on another worker and charges every item exactly once', async () => {
    const batchId = uniqueId('bulk-crash');
    const items = chargeItems(batchId, 40);
    const prefix = `${bulkBatchWorkflowId('payments', 'createPayment', batchId, 0)}:`;
    const charges = () => chargesUnder(prefix);
    // Slow charges keep the batch in flight long enough to kill its worker in the middle of it.
    await sandboxAdmin.fault({
      method: 'POST',
      path: '/payments/payments',
      exact: true,
      fault: 'latency',
      params: { ms: 300 },
    });
    const client = await IntegrationsClient.connect({ address: testEnv.temporalAddress });
    const first = workerProcess('bulk-worker-a');
    let second: ServiceProcess | undefined;
    try {
      await first.ready;
      const handle = await client.sendInBulk({
        integration: 'payments',
        endpoint: 'createPayment',
        batchId,
        items,
        concurrency: 4,
      });
      await waitFor('a few items to be charged', async () => (await charges()).length >= 5, 30_000);
      // Operators see it sending, with the counts of its last heartbeat.
      const [sending] = await handle.status();
      expect(sending).toMatchObject({ state: 'sending', items: 40, progress: { failed: 0, unknown: 0 } });
      // The replacement starts while the batch runs: the activity stays with the first worker until its
      // heartbeat times out, so it cannot take it over early; its start-up overlaps that wait.
      second = workerProcess('bulk-worker-b');
      await first.kill(); // SIGKILL: the activity in flight is lost; its heartbeat times out
      const chargedBeforeKill = (await charges()).length;
      expect(chargedBeforeKill).toBeLessThan(items.length);
      await second.ready;
      // Sent again: attaches to the same workflow, starts nothing.
      const again = await client.sendInBulk({ integration: 'payments', endpoint: 'createPayment', batchId, items });
      expect(again.workflowIds).toEqual(handle.workflowIds);
      const summary = await handle.result();
      expect(summary).toMatchObject({ items: 40, succeeded: 40, failed: 0, unknown: 0 });
      expect((await handle.status())[0]).toMatchObject({ state: 'completed', summary: { succeeded: 40 } });
    } finally {
      await first.kill();
      await second?.stop();
      await client.close();
    }
    const perKey: Record<string, number> = {};
    for (const e of await charges()) perKey[e.idempotencyKey!] = (perKey[e.idempotencyKey!] ?? 0) + 1;
    expect(perKey).toEqual(Object.fromEntries(items.map((item) => [`${prefix}${item.key}`, 1])));
  }, 120_000);
});

describe('the bulk lane when the provider refuses its credentials', () => {
  afterAll(() => sandboxAdmin.clearFaults());

  it('stops the batch, retries it, and charges each item once', async () => {
    const batchId = uniqueId('bulk-401');
    const items = chargeItems(batchId, 6);
    const prefix = `${bulkBatchWorkflowId('payments', 'createPayment', batchId, 0)}:`;
    // Refused twice (a token the provider no longer takes): only an operator could fix that, so the batch
    // stops instead of recording six failures, and Temporal retries its activity.
    await sandboxAdmin.fault({
      method: 'POST',
      path: '/payments/payments',
      exact: true,
      fault: 'status',
      params: { code: 401 },
      times: 2,
    });
    const { summary, attempt } = await withWorkers(async ({ client }) => {
      const handle = await startBulk(client, {
        integration: 'payments',
        endpoint: 'createPayment',
        batchId,
        items,
        concurrency: 1,
      });
      const result = await handle.result();
      const history = await client.workflow.getHandle(handle.workflowIds[0]!).fetchHistory();
      const started = history.events?.find((e) => e.activityTaskStartedEventAttributes);
      return { summary: result, attempt: started?.activityTaskStartedEventAttributes?.attempt ?? 0 };
    });
    expect(summary).toMatchObject({ items: 6, succeeded: 6, failed: 0, unknown: 0 });
    expect(attempt).toBeGreaterThanOrEqual(2);
    const charged = await chargesUnder(prefix);
    expect(charged.map((e) => e.idempotencyKey).sort()).toEqual(items.map((item) => `${prefix}${item.key}`).sort());
  });
});

describe('the bulk lane when items stay unknown', () => {
  afterAll(() => sandboxAdmin.clearFaults());

  it('parks the batch with their keys; an operator retry resends them and each is charged once', async () => {
    const batchId = uniqueId('bulk-unknown');
    const items = chargeItems(batchId, 3);
    const workflowId = bulkBatchWorkflowId('payments', 'createPayment', batchId, 0);
    const prefix = `${workflowId}:`;
    const charges = () => chargesUnder(prefix);
    // Two items are charged but answered 504, then their resend is refused (a 422 after a resend proves
    // nothing), and the lookup is down: their outcome stays unknown. The third is refused outright.
    await sandboxAdmin.fault({
      method: 'POST',
      path: '/payments/payments',
      exact: true,
      fault: 'commit-then-504',
      params: { ms: 0 },
      times: 2,
    });
    await sandboxAdmin.fault({
      method: 'POST',
      path: '/payments/payments',
      exact: true,
      fault: 'status',
      params: { code: 422 },
      times: 3,
    });
    await sandboxAdmin.fault({ method: 'GET', path: '/payments/payments', fault: 'status', params: { code: 400 } });
    const outcome = await withWorkers(async ({ client }) => {
      const handle = await startBulk(client, {
        integration: 'payments',
        endpoint: 'createPayment',
        batchId,
        items,
        concurrency: 3,
      });
      const wf = client.workflow.getHandle(workflowId);
      await waitFor('the batch to park', async () => (await wf.query(parkedState)) !== null, 30_000);
      const parked = (await wf.query(parkedState))!;
      const [status] = await handle.status();
      const charged = (await charges()).length;
      await sandboxAdmin.clearFaults();
      // A step's skip needs a result; a batch's does not, but its validator still refuses what it does not allow.
      const refused = await wf
        .executeUpdate(resolveParked, { args: [{ action: 'compensate' }] })
        .catch((err: unknown) => err as Error & { cause?: Error });
      expect(refused).toBeInstanceOf(Error);
      expect((refused as Error & { cause?: Error }).cause?.message).toMatch(/retry, skip, fail/);
      await wf.executeUpdate(resolveParked, { args: [{ action: 'retry' }] });
      return { parked, status, charged, summary: await handle.result() };
    });
    expect(outcome.parked).toMatchObject({
      failureType: 'OutcomeUnknown',
      allowed: ['retry', 'skip', 'fail'],
      items: { count: 2 },
    });
    expect(items.map((i) => i.key)).toEqual(expect.arrayContaining(outcome.parked.items!.keys));
    expect(outcome.status).toMatchObject({ state: 'parked', summary: { unknown: 2, failed: 1, succeeded: 0 } });
    expect(outcome.charged).toBe(2);
    // The refused item stays refused (an answer); the two unknown ones are answered by their first charge.
    expect(outcome.summary).toMatchObject({ items: 3, succeeded: 2, failed: 1, unknown: 0, skipped: 0 });
    const perKey: Record<string, number> = {};
    for (const e of await charges()) perKey[e.idempotencyKey!] = (perKey[e.idempotencyKey!] ?? 0) + 1;
    expect(perKey).toEqual(Object.fromEntries(outcome.parked.items!.keys.map((k) => [`${prefix}${k}`, 1])));
  });

  it('parks a batch whose activity ran out of budget, every item its heartbeat had not settled listed as unknown', async () => {
    const batchId = uniqueId('bulk-budget');
    const items = chargeItems(batchId, 3);
    const workflowId = bulkBatchWorkflowId('payments', 'createPayment', batchId, 0);
    // Refused credentials stop the batch and Temporal retries it, until the batch's budget (here 3 s) is spent.
    await sandboxAdmin.fault({
      method: 'POST',
      path: '/payments/payments',
      exact: true,
      fault: 'status',
      params: { code: 401 },
    });
    const input: SendInBulkInput = {
      integration: 'payments',
      endpoint: 'createPayment',
      batchId,
      batchIndex: 0,
      items,
      concurrency: 3,
      write: true,
      budgetMs: 3_000,
    };
    const outcome = await withWorkers(async ({ client }) => {
      const wf = await client.workflow.start('sendInBulk', {
        taskQueue: WORKFLOWS_TASK_QUEUE,
        workflowId,
        args: [input],
      });
      await waitFor('the batch to park', async () => (await wf.query(parkedState)) !== null, 60_000);
      const parked = (await wf.query(parkedState))!;
      await sandboxAdmin.clearFaults();
      await wf.executeUpdate(resolveParked, { args: [{ action: 'skip', result: null }] });
      return { parked, summary: (await wf.result()) as BulkBatchSummary };
    });
    expect(outcome.parked).toMatchObject({ failureType: 'OutcomeUnknown', items: { count: 3 } });
    expect(outcome.parked.lastError).toContain('not settled when the batch');
    expect(outcome.summary).toMatchObject({ items: 3, succeeded: 0, unknown: 0, skipped: 3 });
    expect(await chargesUnder(`${workflowId}:`)).toEqual([]);
  });
});

import { randomUUID } from 'node:crypto';
import { CancelledFailure } from '@temporalio/common';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import {
  BUDGET_FROM_MEMO,
  BulkRequestError,
  FIRST_SENT_AT_MEMO,
  startBulk,
  type BulkRequest,
} from '../../src/client/bulk-lane';
import { bulkBatchStatus, bulkBatchWorkflowId, type SendInBulkInput } from '../../src/contracts/bulk-lane';
import { WORKFLOWS_TASK_QUEUE } from '../../src/contracts/task-queues';
import { parkedState } from '../../src/contracts/messages';
import type { sendInBulk } from '../../src/workflows/send-in-bulk.workflow';
import { sandboxAdmin } from '../support/sandbox';
import { uniqueId, withWorkers } from '../support/temporal';
import { waitFor } from '../support/wait';

// A bulk batch ended from outside (cancelled, terminated, reset by an operator) ends in between: neither
// every item settled nor parked. What it then says, and what sending it again (or the reset) sends.

const chargeRequest = (batchId: string, count: number): BulkRequest => ({
  integration: 'payments',
  endpoint: 'createPayment',
  batchId,
  items: Array.from({ length: count }, (_, i) => ({
    key: `row-${i}`,
    body: { orderId: `${batchId}-${i}`, amount: 100 + i, currency: 'EUR' },
  })),
  concurrency: 1,
});

/** Charges per key under a batch's keys (`<batch workflow ID>:`), from the sandbox's ledger. */
async function chargesPerKey(prefix: string): Promise<Record<string, number>> {
  const perKey: Record<string, number> = {};
  for (const e of await sandboxAdmin.ledger())
    if (e.effect === 'payment.created' && e.idempotencyKey?.startsWith(prefix))
      perKey[e.idempotencyKey] = (perKey[e.idempotencyKey] ?? 0) + 1;
  return perKey;
}

/** Charge requests the sandbox received (this file's batches only run one at a time). */
const chargeRequests = async () => (await sandboxAdmin.stats()).requests['POST /payments/payments'] ?? 0;

/** The start, input budget and first-send memo of these executions of a batch's workflow ID, in order. */
async function executionsOf(client: Client, workflowId: string, runIds: string[]) {
  return Promise.all(
    runIds.map(async (runId) => {
      const handle = client.workflow.getHandle<typeof sendInBulk>(workflowId, runId);
      const [{ memo, startTime }, history] = await Promise.all([handle.describe(), handle.fetchHistory()]);
      const payload = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
      const input = client.options.loadedDataConverter.payloadConverter.fromPayload<SendInBulkInput>(payload!);
      return {
        startMs: startTime.getTime(),
        budgetMs: input.budgetMs,
        firstSentAt: Number(memo?.[FIRST_SENT_AT_MEMO]),
        budgetFrom: Number(memo?.[BUDGET_FROM_MEMO]),
      };
    }),
  );
}

const everyKeyOnce = (request: BulkRequest, prefix: string) =>
  Object.fromEntries(request.items.map((item) => [`${prefix}${item.key}`, 1]));

/** Parks a 3-item batch on `row-0`, charged but answered 504, its resend refused, its lookup down. */
async function parkedOnUnknown(client: Client, request: BulkRequest) {
  await sandboxAdmin.fault({
    method: 'POST',
    path: '/payments/payments',
    exact: true,
    fault: 'commit-then-504',
    params: { ms: 0 },
    times: 1,
  });
  await sandboxAdmin.fault({
    method: 'POST',
    path: '/payments/payments',
    exact: true,
    fault: 'status',
    params: { code: 422 },
    times: 1,
  });
  await sandboxAdmin.fault({ method: 'GET', path: '/payments/payments', fault: 'status', params: { code: 400 } });
  const bulk = await startBulk(client, request);
  const wf = client.workflow.getHandle<typeof sendInBulk>(bulk.workflowIds[0]!);
  await waitFor('the batch to park', async () => (await wf.query(parkedState)) !== null, 60_000);
  await sandboxAdmin.clearFaults();
  return { bulk, wf };
}

describe('a bulk batch ended from outside', () => {
  afterEach(() => sandboxAdmin.clearFaults());

  it('cancelled mid-send: says cancelled, not sending; sent again, it resends every item, done ones too, each charged once', async () => {
    const request = chargeRequest(uniqueId('bulk-cancel'), 40);
    const prefix = `${bulkBatchWorkflowId('payments', 'createPayment', request.batchId, 0)}:`;
    // Slow charges, one at a time: the cancellation (delivered with a heartbeat) reaches the batch mid-way.
    await sandboxAdmin.fault({
      method: 'POST',
      path: '/payments/payments',
      exact: true,
      fault: 'latency',
      params: { ms: 400 },
    });
    const outcome = await withWorkers(async ({ client }) => {
      const bulk = await startBulk(client, request);
      const wf = client.workflow.getHandle<typeof sendInBulk>(bulk.workflowIds[0]!);
      await waitFor(
        'a few items to be charged',
        async () => Object.keys(await chargesPerKey(prefix)).length >= 3,
        30_000,
      );
      const { runId: firstRun } = await wf.describe();
      await wf.cancel();
      const ended = await wf.result().catch((err: unknown) => err);
      const chargedByCancelled = Object.keys(await chargesPerKey(prefix)).length;
      const query = await wf.query(bulkBatchStatus);
      const [status] = await bulk.status();
      await sandboxAdmin.clearFaults();
      const before = await chargeRequests();
      const again = await startBulk(client, request);
      const summary = await again.result();
      const sentAgain = (await chargeRequests()) - before;
      return {
        ended,
        chargedByCancelled,
        query,
        status,
        summary,
        sentAgain,
        runs: await executionsOf(client, wf.workflowId, [firstRun, (await wf.describe()).runId]),
      };
    });
    expect(outcome.ended).toBeInstanceOf(WorkflowFailedError);
    expect((outcome.ended as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    // In between: some items charged, not all, and nothing parked.
    expect(outcome.chargedByCancelled).toBeGreaterThanOrEqual(3);
    expect(outcome.chargedByCancelled).toBeLessThan(request.items.length);
    // The query, answered from the history, still says what the batch was doing; status() says it ended.
    expect(outcome.query).toMatchObject({ state: 'sending' });
    expect(outcome.status).toMatchObject({ state: 'cancelled', items: 40 });
    expect(outcome.status?.summary).toBeUndefined();
    // A new run knows nothing of the cancelled one's progress: every item is sent again, with its key.
    expect(outcome.sentAgain).toBe(request.items.length);
    expect(outcome.summary).toMatchObject({ items: 40, succeeded: 40, failed: 0, unknown: 0 });
    expect(await chargesPerKey(prefix)).toEqual(everyKeyOnce(request, prefix));
    // Its resends stay inside the key retention counted from the first send: the budget is what is left of it.
    const [first, second] = outcome.runs;
    expect(outcome.runs).toHaveLength(2);
    expect(second!.firstSentAt).toBe(first!.firstSentAt);
    // The first run got the whole budget at its first send; the resend what was left of it when its budget
    // was counted (recorded with it): the whole budget less the time since the first send.
    expect(first!.budgetFrom).toBe(first!.firstSentAt);
    expect(second!.budgetFrom).toBeGreaterThan(first!.firstSentAt);
    expect(second!.budgetMs).toBe(first!.budgetMs - (second!.budgetFrom - first!.firstSentAt));
  }, 120_000);

  it('first sent longer ago than its budget: sending it again is refused, nothing starts', async () => {
    const request = chargeRequest(uniqueId('bulk-late'), 2);
    const workflowId = bulkBatchWorkflowId('payments', 'createPayment', request.batchId, 0);
    const outcome = await withWorkers(async ({ client }) => {
      // An execution whose items were first sent 23 hours ago (the payments budget: 90 % of 24 h), terminated.
      const input: SendInBulkInput = {
        integration: 'payments',
        endpoint: 'createPayment',
        batchId: request.batchId,
        batchIndex: 0,
        items: request.items,
        concurrency: 1,
        write: true,
        budgetMs: 1,
      };
      const old = await client.workflow.start<typeof sendInBulk>('sendInBulk', {
        taskQueue: `${WORKFLOWS_TASK_QUEUE}-nobody`,
        workflowId,
        args: [input],
        memo: { [FIRST_SENT_AT_MEMO]: Date.now() - 23 * 3600_000 },
      });
      await old.terminate('operator: test');
      const refused = await startBulk(client, request).catch((err: unknown) => err);
      return {
        refused,
        latest: (await client.workflow.getHandle(workflowId).describe()).runId,
        old: old.firstExecutionRunId,
      };
    });
    expect(outcome.refused).toBeInstanceOf(BulkRequestError);
    expect((outcome.refused as BulkRequestError).message).toMatch(/could apply their items twice/);
    expect(outcome.latest).toBe(outcome.old);
  });

  it('terminated while parked: says terminated, not parked', async () => {
    const request = chargeRequest(uniqueId('bulk-terminate'), 3);
    const outcome = await withWorkers(async ({ client }) => {
      const { bulk, wf } = await parkedOnUnknown(client, request);
      await wf.terminate('operator: test');
      return { query: await wf.query(bulkBatchStatus), status: (await bulk.status())[0] };
    });
    expect(outcome.query).toMatchObject({ state: 'parked', summary: { unknown: 1, succeeded: 2 } });
    expect(outcome.status).toMatchObject({ state: 'terminated', summary: { unknown: 1, succeeded: 2 } });
  });

  it('reset by an operator to its first workflow task: the new run resends every item, each charged once', async () => {
    const request = chargeRequest(uniqueId('bulk-reset'), 3);
    const prefix = `${bulkBatchWorkflowId('payments', 'createPayment', request.batchId, 0)}:`;
    const outcome = await withWorkers(async ({ client }) => {
      const { wf } = await parkedOnUnknown(client, request);
      const { runId } = await wf.describe();
      const history = await wf.fetchHistory();
      const firstTask = history.events?.find((e) => e.workflowTaskCompletedEventAttributes)?.eventId;
      const before = await chargeRequests();
      const reset = await client.workflowService.resetWorkflowExecution({
        namespace: client.options.namespace,
        workflowExecution: { workflowId: wf.workflowId, runId },
        workflowTaskFinishEventId: firstTask,
        reason: 'operator: test',
        requestId: randomUUID(),
      });
      const resetRun = client.workflow.getHandle<typeof sendInBulk>(wf.workflowId, reset.runId ?? undefined);
      const result = await resetRun.result();
      // The start the workflow counts its budget from (workflowInfo().startTime): the reset run's first event.
      const startOf = async (h: typeof resetRun) =>
        (await h.fetchHistory()).events?.[0]?.eventTime?.seconds?.toString();
      return {
        result,
        sent: (await chargeRequests()) - before,
        starts: [
          await startOf(client.workflow.getHandle<typeof sendInBulk>(wf.workflowId, runId)),
          await startOf(resetRun),
        ],
      };
    });
    // The reset run keeps the first run's start: its resends stay inside the budget counted from the first send.
    expect(outcome.starts[1]).toBe(outcome.starts[0]);
    // The unknown item is answered by its first charge now; the two done ones are sent again too.
    expect(outcome.sent).toBe(3);
    expect(outcome.result).toMatchObject({ items: 3, succeeded: 3, unknown: 0 });
    expect(await chargesPerKey(prefix)).toEqual(everyKeyOnce(request, prefix));
  });
});

import type { Client } from '@temporalio/client';
import { batcherState, queueEmail, type BatcherState, type QueuedEmail } from '../../src/contracts/messages';
import { WORKFLOWS_TASK_QUEUE } from '../../src/contracts/task-queues';
import type { EmailBatcherInput } from '../../src/workflows/email-batcher.workflow';
import { sandboxAdmin, type LedgerEntry } from '../support/sandbox';
import { uniqueId, withWorkers } from '../support/temporal';

type SentEmail = LedgerEntry & { request: { to: string; subject: string } };

const messages = (n: number): QueuedEmail[] =>
  Array.from({ length: n }, (_, i) => ({
    to: `user${i + 1}@example.com`,
    subject: `message ${i + 1}`,
    body: `body ${i + 1}`,
  }));

/** Queues each message as a service would: signalWithStart, so the first one starts the batcher. */
async function queueAll(client: Client, workflowId: string, input: EmailBatcherInput, all: QueuedEmail[]) {
  const runIds = new Set<string>();
  for (const message of all) {
    const handle = await client.workflow.signalWithStart('emailBatcher', {
      workflowId,
      taskQueue: WORKFLOWS_TASK_QUEUE,
      args: [input],
      signal: queueEmail,
      signalArgs: [message],
    });
    runIds.add(handle.signaledRunId);
  }
  return { firstRunId: [...runIds][0]! };
}

async function waitForFlushes(client: Client, workflowId: string, flushes: number): Promise<BatcherState> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const state = await client.workflow.getHandle(workflowId).query(batcherState);
    if (state.flushes >= flushes || Date.now() > deadline) return state;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The emails the provider applied for this batcher, as `subject@batch-n`. */
async function sentBy(workflowId: string): Promise<string[]> {
  const ledger = (await sandboxAdmin.ledger()) as SentEmail[];
  return ledger
    .filter((e) => e.effect === 'email.sent' && e.idempotencyKey?.startsWith(`${workflowId}:`))
    .map((e) => `${e.request.subject}@${e.idempotencyKey!.split(':').pop()}`);
}

const expectedSends = messages(25).map((m, i) => `${m.subject}@batch-${Math.floor(i / 10) + 1}`);

describe('emailBatcher on the real dev server', () => {
  afterEach(() => sandboxAdmin.clearFaults());

  it('flushes 25 queued messages as 10 and 10 by size, then 5 on the timer, each sent once despite a retried flush', async () => {
    const workflowId = uniqueId('email-batcher');
    await sandboxAdmin.fault({
      method: 'POST',
      path: '/email/batch',
      fault: 'status',
      params: { code: 503 },
      times: 1,
    });
    const before = await sandboxAdmin.stats();
    const { state, final } = await withWorkers(async ({ client }) => {
      await queueAll(client, workflowId, { maxBatchSize: 10, maxWait: '3 seconds' }, messages(25));
      const state = await waitForFlushes(client, workflowId, 3);
      const handle = client.workflow.getHandle(workflowId);
      await handle.cancel();
      return { state, final: (await handle.result()) as BatcherState };
    });
    expect(state.recent).toEqual([
      { batch: 1, size: 10, reason: 'size', outcome: 'sent' },
      { batch: 2, size: 10, reason: 'size', outcome: 'sent' },
      { batch: 3, size: 5, reason: 'timer', outcome: 'sent' },
    ]);
    expect(final).toMatchObject({ pending: 0, flushes: 3, sent: 25, rejected: 0, refused: 0 });
    expect((await sentBy(workflowId)).sort()).toEqual([...expectedSends].sort());
    const after = await sandboxAdmin.stats();
    // Three batches, plus the one resend of the batch that met the 503: same key, so nothing doubled.
    expect((after.requests['POST /email/batch'] ?? 0) - (before.requests['POST /email/batch'] ?? 0)).toBe(4);
    expect((after.faultsInjected.status ?? 0) - (before.faultsInjected.status ?? 0)).toBe(1);
  });

  it('continues as new after its flushes-per-run, carrying the waiting messages and the batch numbering', async () => {
    const workflowId = uniqueId('email-batcher-can');
    const { state, runs } = await withWorkers(async ({ client }) => {
      const { firstRunId: firstRun } = await queueAll(
        client,
        workflowId,
        { maxBatchSize: 10, maxWait: '3 seconds', flushesPerRun: 2 },
        messages(25),
      );
      const state = await waitForFlushes(client, workflowId, 3);
      const handle = client.workflow.getHandle(workflowId);
      const lastRun = (await handle.describe()).runId;
      await handle.cancel();
      await handle.result();
      return { state, runs: new Set([firstRun, lastRun]).size };
    });
    expect(runs).toBe(2);
    expect(state.recent.map((f) => `${f.batch}:${f.size}:${f.reason}`)).toEqual([
      '1:10:size',
      '2:10:size',
      '3:5:timer',
    ]);
    expect((await sentBy(workflowId)).sort()).toEqual([...expectedSends].sort());
  });

  it('drops a malformed message when it is queued, so it cannot sink the batch it would have joined', async () => {
    const workflowId = uniqueId('email-batcher-bad');
    const final = await withWorkers(async ({ client }) => {
      const bad = { to: 'not an address', subject: 'bad', body: '' };
      await queueAll(client, workflowId, { maxBatchSize: 3, maxWait: '1 second' }, [...messages(2), bad]);
      await waitForFlushes(client, workflowId, 1);
      const handle = client.workflow.getHandle(workflowId);
      await handle.cancel();
      return (await handle.result()) as BatcherState;
    });
    expect(final).toMatchObject({ flushes: 1, sent: 2, rejected: 1, pending: 0 });
    expect(final.recent).toEqual([{ batch: 1, size: 2, reason: 'timer', outcome: 'sent' }]);
  });

  it('sends the messages of a batcher started again after it ended: its batches are keyed apart', async () => {
    const workflowId = uniqueId('email-batcher-again');
    const input: EmailBatcherInput = { maxBatchSize: 2, maxWait: '1 second' };
    const ended = await withWorkers(async ({ client }) => {
      const finalState = async () => {
        await waitForFlushes(client, workflowId, 1);
        const handle = client.workflow.getHandle(workflowId);
        await handle.cancel();
        return (await handle.result()) as BatcherState;
      };
      await queueAll(client, workflowId, input, messages(2));
      const first = await finalState();
      // Same workflow ID, a new run: its first batch is `batch-1` again, but not the same key.
      await queueAll(client, workflowId, input, messages(4).slice(2));
      return [first, await finalState()];
    });
    expect(ended.map((state) => state.sent)).toEqual([2, 2]);
    const sent = await sentBy(workflowId);
    expect(sent.sort()).toEqual(['message 1@batch-1', 'message 2@batch-1', 'message 3@batch-1', 'message 4@batch-1']);
  });
});

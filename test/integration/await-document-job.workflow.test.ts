import { WorkflowFailedError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { documents, type DocumentJob } from '../../src/integrations/documents/documents.integration';
import { IntegrationEngine } from '../../src/integrations/runtime/engine';
import type { awaitDocumentJob, AwaitDocumentJobInput } from '../../src/workflows/await-document-job.workflow';
import { documentJobFinished, documentJobWorkflowId } from '../../src/contracts/messages';
import { WORKFLOWS_TASK_QUEUE } from '../../src/contracts/task-queues';
import { captureLogs } from '../support/log-capture';
import { sandboxAdmin } from '../support/sandbox';
import { uniqueId, withWorkers } from '../support/temporal';
import { waitFor } from '../support/wait';

const runtime = new IntegrationEngine({ logger: captureLogs().logger });

/** Triggers a real document job at the sandbox, finishing after `jobMs`. */
async function newJob(jobMs: number): Promise<string> {
  await sandboxAdmin.config({ jobMs });
  const job = (await runtime.call(
    documents,
    'generate',
    { key: uniqueId('doc'), body: { template: 'invoice', data: { n: 1 } } },
    { attempt: 1 },
  )) as DocumentJob;
  return job.jobId;
}

function start(client: Client, jobId: string, input: Partial<AwaitDocumentJobInput>) {
  return client.workflow.start<typeof awaitDocumentJob>('awaitDocumentJob', {
    taskQueue: WORKFLOWS_TASK_QUEUE,
    workflowId: documentJobWorkflowId(jobId),
    args: [{ jobId, mode: 'heartbeat', deadline: Date.now() + 20_000, ...input }],
  });
}

describe('two-step polling on the real dev server', () => {
  afterAll(async () => {
    await sandboxAdmin.config({ jobMs: 1500 });
    await runtime.close();
  });

  it.each([
    ['heartbeat', { mode: 'heartbeat' }],
    ['retry', { mode: 'retry', interval: '500 ms' }],
    ['timers', { mode: 'timers', interval: '300 ms' }],
  ] as const)('finishes by polling in %s mode', async (_mode, input) => {
    const jobId = await newJob(1_000);
    const result = await withWorkers(async ({ client }) => (await start(client, jobId, input)).result());
    expect(result).toMatchObject({
      jobId,
      status: 'completed',
      source: 'poll',
      documentUrl: expect.stringContaining(jobId) as string,
    });
  });

  it('keeps history bounded in timers mode by continuing as new', async () => {
    const jobId = await newJob(60_000);
    const { result, continued } = await withWorkers(async ({ client }) => {
      const handle = await start(client, jobId, { mode: 'timers', interval: '200 ms', pollsPerRun: 2 });
      // Two checks per run: a new run appears well before the job could finish.
      await waitFor(
        'a continued run',
        async () => (await handle.describe()).runId !== handle.firstExecutionRunId,
        15_000,
      );
      const first = await client.workflow.getHandle(handle.workflowId, handle.firstExecutionRunId).fetchHistory();
      await handle.signal(documentJobFinished, {
        jobId,
        status: 'completed',
        documentUrl: 'https://docs.example.com/2.pdf',
        source: 'webhook',
      });
      return {
        result: await handle.result(),
        continued: first.events?.some((e) => e.workflowExecutionContinuedAsNewEventAttributes) ?? false,
      };
    });
    expect(continued).toBe(true);
    expect(result).toMatchObject({ jobId, status: 'completed', source: 'webhook' });
  });

  it('ends the wait early when the completion webhook arrives, and ignores a duplicate', async () => {
    const jobId = await newJob(60_000);
    const result = await withWorkers(async ({ client }) => {
      const handle = await start(client, jobId, { mode: 'heartbeat' });
      const webhook = {
        jobId,
        status: 'completed' as const,
        documentUrl: 'https://docs.example.com/1.pdf',
        source: 'webhook' as const,
        eventId: 'evt_1',
      };
      await handle.signal(documentJobFinished, webhook);
      await handle.signal(documentJobFinished, {
        ...webhook,
        documentUrl: 'https://docs.example.com/duplicate.pdf',
        eventId: 'evt_2',
      });
      return handle.result();
    });
    expect(result).toEqual({
      jobId,
      status: 'completed',
      documentUrl: 'https://docs.example.com/1.pdf',
      source: 'webhook',
      eventId: 'evt_1',
    });
  });

  it.each(['heartbeat', 'timers'] as const)(
    'fails with DeadlineExceeded when the job outlives its deadline (%s)',
    async (mode) => {
      const jobId = await newJob(60_000);
      const failure = await withWorkers(async ({ client }) =>
        (await start(client, jobId, { mode, interval: '300 ms', deadline: Date.now() + 1_500 }))
          .result()
          .catch((err: unknown) => err),
      );
      expect(failure).toBeInstanceOf(WorkflowFailedError);
      expect((failure as WorkflowFailedError).cause).toBeInstanceOf(ApplicationFailure);
      expect((failure as WorkflowFailedError).cause).toMatchObject({ type: 'DeadlineExceeded' });
    },
  );
});

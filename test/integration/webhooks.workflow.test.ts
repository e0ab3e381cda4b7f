import { randomBytes } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { startSandbox } from '../../src/sandbox/server';
import { documentsWebhooks } from '../../src/webhooks/providers';
import { startReceiver } from '../../src/webhooks/server';
import { documentJobWorkflowId } from '../../src/contracts/messages';
import type { processWebhookEvent, WebhookEventInput } from '../../src/workflows/process-webhook-event.workflow';
import { WORKFLOWS_TASK_QUEUE } from '../../src/contracts/task-queues';
import { testLogger } from '../support/stack';
import { testEnv, uniqueId, withWorkers } from '../support/temporal';
import type { awaitDocumentJob } from './webhook-test.workflows';

// `processWebhookEvent` runs on this project's real workers (withWorkers); the workflow it signals is a
// test-only stand-in served by its own worker on a queue of its own.
const waiterQueue = uniqueId('webhook-waiters');
let waiterConnection: NativeConnection;
let waiterWorker: Worker;
let waiterRunning: Promise<void>;

beforeAll(async () => {
  waiterConnection = await NativeConnection.connect({ address: testEnv.temporalAddress });
  waiterWorker = await Worker.create({
    connection: waiterConnection,
    taskQueue: waiterQueue,
    workflowsPath: require.resolve('./webhook-test.workflows'),
    shutdownGraceTime: '1 second',
  });
  waiterRunning = waiterWorker.run();
});

afterAll(async () => {
  waiterWorker.shutdown();
  await waiterRunning;
  await waiterConnection.close();
});

function event(overrides: Partial<WebhookEventInput> = {}): WebhookEventInput {
  const jobId = `job_${randomBytes(6).toString('hex')}`;
  return {
    provider: 'documents',
    eventId: `evt_${randomBytes(8).toString('hex')}`,
    type: 'document.completed',
    createdAt: new Date().toISOString(),
    data: { jobId, documentUrl: `http://127.0.0.1:9/documents/files/${jobId}.pdf` },
    ...overrides,
  };
}

function startWaiter(client: Client, jobId: string) {
  return client.workflow.start<typeof awaitDocumentJob>('awaitDocumentJob', {
    taskQueue: waiterQueue,
    workflowId: documentJobWorkflowId(jobId),
  });
}

function startProcessing(client: Client, input: WebhookEventInput) {
  return client.workflow.start<typeof processWebhookEvent>('processWebhookEvent', {
    taskQueue: WORKFLOWS_TASK_QUEUE,
    workflowId: uniqueId('webhook-documents-test'),
    args: [input],
  });
}

async function timersStarted(handle: Awaited<ReturnType<typeof startProcessing>>): Promise<number> {
  const history = await handle.fetchHistory();
  return history.events?.filter((e) => e.timerStartedEventAttributes).length ?? 0;
}

describe('processWebhookEvent', () => {
  it('signals the workflow waiting for the document job with the webhook result', async () => {
    const input = event();
    const jobId = input.data.jobId!;
    const { result, received } = await withWorkers(async ({ client }) => {
      const waiter = await startWaiter(client, jobId);
      const result = await (await startProcessing(client, input)).result();
      return { result, received: await waiter.result() };
    });
    expect(result).toEqual({
      outcome: 'signalled',
      type: 'document.completed',
      target: documentJobWorkflowId(jobId),
      attempts: 1,
    });
    expect(received).toEqual({
      jobId,
      status: 'completed',
      documentUrl: input.data.documentUrl,
      source: 'webhook',
      eventId: input.eventId,
    });
  });

  it('passes a document.failed event on as a failed job', async () => {
    const input = event({ type: 'document.failed', data: { jobId: `job_${randomBytes(6).toString('hex')}` } });
    const received = await withWorkers(async ({ client }) => {
      const waiter = await startWaiter(client, input.data.jobId!);
      await (await startProcessing(client, input)).result();
      return waiter.result();
    });
    expect(received).toEqual({ jobId: input.data.jobId, status: 'failed', source: 'webhook', eventId: input.eventId });
  });

  it('keeps trying on durable timers and signals a waiter that starts after the webhook arrived', async () => {
    const input = event({ waiter: { attempts: 50, intervalMs: 200 } });
    const result = await withWorkers(async ({ client }) => {
      const handle = await startProcessing(client, input);
      // The first attempt failed once a timer is in the history: only then does the waiter start.
      for (let i = 0; i < 100 && (await timersStarted(handle)) === 0; i += 1) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(await timersStarted(handle)).toBeGreaterThan(0);
      await startWaiter(client, input.data.jobId!);
      return handle.result();
    });
    expect(result).toMatchObject({ outcome: 'signalled' });
    expect((result as { attempts: number }).attempts).toBeGreaterThanOrEqual(2);
  });

  it('completes saying nobody waited when no workflow waits for the job', async () => {
    const input = event({ waiter: { attempts: 3, intervalMs: 100 } });
    const { result, timers } = await withWorkers(async ({ client }) => {
      const handle = await startProcessing(client, input);
      return { result: await handle.result(), timers: await timersStarted(handle) };
    });
    expect(result).toEqual({
      outcome: 'no-waiter',
      type: 'document.completed',
      target: documentJobWorkflowId(input.data.jobId!),
      attempts: 3,
      lastError: expect.any(String) as string,
    });
    expect(timers).toBe(2);
  });

  it('records an unknown event type as ignored', async () => {
    const input = event({ type: 'document.archived', data: {} });
    const result = await withWorkers(async ({ client }) => (await startProcessing(client, input)).result());
    expect(result).toEqual({
      outcome: 'ignored',
      type: 'document.archived',
      reason: 'no route for documents document.archived',
    });
  });

  it.each(['constructor', '__proto__', 'toString', 'hasOwnProperty'])(
    'records a type named like an object property (%s) as unknown, even with a job id',
    async (type) => {
      const input = event({ type, data: { jobId: 'job_proto' } });
      const result = await withWorkers(async ({ client }) => (await startProcessing(client, input)).result());
      expect(result).toEqual({ outcome: 'ignored', type, reason: `no route for documents ${type}` });
    },
  );
});

describe('webhooks end to end', () => {
  it('delivers a document webhook sent by the sandbox to the workflow waiting for the job', async () => {
    const apiKey = randomBytes(18).toString('base64url');
    const secret = `whsec_${randomBytes(24).toString('base64')}`;
    const filler = randomBytes(12).toString('hex');
    const sandbox = await startSandbox({
      credentials: {
        paymentsClientId: filler,
        paymentsClientSecret: filler,
        documentsApiKey: apiKey,
        emailApiKey: filler,
        crmApiKey: filler,
        inventoryApiKey: filler,
        webhookSecret: secret,
      },
    });
    const receiver = await startReceiver({
      providers: [{ definition: documentsWebhooks, secrets: [secret] }],
      temporal: { address: testEnv.temporalAddress, taskQueue: WORKFLOWS_TASK_QUEUE },
      logger: testLogger(),
    });
    try {
      const configured = await fetch(`${sandbox.url}/admin/config`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ webhook: { target: `${receiver.url}/webhooks/documents` } }),
      });
      expect(configured.status).toBe(200);

      const received = await withWorkers(async ({ client }) => {
        const generated = await fetch(`${sandbox.url}/documents/generate`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'x-api-key': apiKey,
            'idempotency-key': uniqueId('doc'),
            'x-sandbox-job-ms': '300',
          },
          body: JSON.stringify({ template: 'invoice', data: { total: 12 } }),
        });
        expect(generated.status).toBe(202);
        const { jobId } = (await generated.json()) as { jobId: string };
        // Whichever comes first, the webhook or this start: processWebhookEvent waits for the waiter.
        return (await startWaiter(client, jobId)).result();
      });

      expect(received).toEqual({
        jobId: received.jobId,
        status: 'completed',
        documentUrl: `${sandbox.url}/documents/files/${received.jobId}.pdf`,
        source: 'webhook',
        eventId: expect.stringMatching(/^evt_/) as string,
      });
      const deliveries = (await (await fetch(`${sandbox.url}/admin/webhooks`)).json()) as { status: number }[];
      expect(deliveries.map((d) => d.status)).toEqual([202]);
      expect(receiver.stats()).toMatchObject({ accepted: 1, rejected: {} });
    } finally {
      await receiver.close();
      await sandbox.close();
    }
  });
});

import type { Client } from '@temporalio/client';
import { IntegrationsClient } from '../../src/client';
import { documents, type DocumentJob } from '../../src/integrations/documents/documents.integration';
import { IntegrationRuntime } from '../../src/integrations/runtime/engine';
import { createLogger } from '../../src/observability/logger';
import { documentsWebhooks } from '../../src/webhooks/providers';
import { startReceiver } from '../../src/webhooks/server';
import type { awaitDocumentJob } from '../../src/workflows/await-document-job.workflow';
import {
  documentJobFinished,
  documentJobWorkflowId,
  orderWorkflowId,
  parkedState,
  resolveParked,
} from '../../src/workflows/messages';
import { WORKFLOWS_TASK_QUEUE } from '../../src/workflows/task-queues';
import { sandboxAdmin } from '../support/sandbox';
import { testEnv } from '../support/temporal';
import { waitFor } from '../support/wait';

/**
 * The runs whose histories are committed under test/replay/histories: every path through the
 * production workflows, fault paths included. `npm run record-histories` re-records all of them.
 */
export interface ReplayScenario {
  /** File name (without .json). */
  name: string;
  /** Runs the scenario to the end; returns the workflow IDs whose histories to keep. */
  run(client: Client, id: string): Promise<string[]>;
}

const order = (id: string, extra: Partial<Parameters<IntegrationsClient['startOrder']>[0]> = {}) => ({
  orderId: id,
  customerId: 'cus_0042',
  amount: 2599,
  currency: 'EUR',
  ...extra,
});

async function runOrder(
  id: string,
  extra: Partial<Parameters<IntegrationsClient['startOrder']>[0]> = {},
  during?: (c: IntegrationsClient) => Promise<void>,
) {
  const client = await IntegrationsClient.connect({ address: testEnv.temporalAddress });
  try {
    await client.startOrder(order(id, extra));
    await during?.(client);
    await client.orderResult(id);
  } finally {
    await client.close();
  }
}

/** A real document job at the sandbox that will not finish for a minute. */
async function slowJob(id: string): Promise<string> {
  const runtime = new IntegrationRuntime({ logger: createLogger({ name: 'replay', level: 'error' }) });
  await sandboxAdmin.config({ jobMs: 60_000 });
  try {
    const job = (await runtime.call(
      documents,
      'generate',
      { key: id, body: { template: 'invoice', data: {} } },
      { attempt: 1 },
    )) as DocumentJob;
    return job.jobId;
  } finally {
    await sandboxAdmin.config({ jobMs: 1_500 });
    await runtime.close();
  }
}

async function jobFor(
  client: Client,
  id: string,
  mode: 'heartbeat' | 'retry' | 'timers',
  extra: object = {},
): Promise<string[]> {
  const jobId = await slowJob(id);
  const handle = await client.workflow.start<typeof awaitDocumentJob>('awaitDocumentJob', {
    taskQueue: WORKFLOWS_TASK_QUEUE,
    workflowId: documentJobWorkflowId(jobId),
    args: [{ jobId, mode, deadline: Date.now() + 1_500, interval: '300 ms', ...extra }],
  });
  await handle.result().catch(() => undefined); // DeadlineExceeded is the path recorded here
  return [handle.workflowId];
}

export const replayScenarios: ReplayScenario[] = [
  {
    name: 'charge-payment.succeeded',
    run: async (client, id) => {
      await client.workflow.execute('chargePayment', {
        taskQueue: WORKFLOWS_TASK_QUEUE,
        workflowId: id,
        args: [{ orderId: id, amount: 4200, currency: 'EUR' }],
      });
      return [id];
    },
  },
  {
    name: 'charge-payment.retried-after-503',
    run: async (client, id) => {
      await sandboxAdmin.fault({
        method: 'POST',
        path: '/payments/payments',
        fault: 'status',
        params: { code: 503 },
        times: 1,
      });
      await client.workflow.execute('chargePayment', {
        taskQueue: WORKFLOWS_TASK_QUEUE,
        workflowId: id,
        args: [{ orderId: id, amount: 1999, currency: 'EUR' }],
      });
      return [id];
    },
  },
  {
    name: 'fulfill-order.completed',
    run: async (_client, id) => {
      await runOrder(id);
      return [orderWorkflowId(id)];
    },
  },
  {
    name: 'fulfill-order.charge-found-by-lookup',
    run: async (_client, id) => {
      await sandboxAdmin.fault({
        method: 'POST',
        path: '/payments/payments',
        fault: 'commit-then-504',
        params: { ms: 10 },
        times: 2,
      });
      await runOrder(id);
      return [orderWorkflowId(id)];
    },
  },
  {
    name: 'fulfill-order.charge-resent-after-lookup',
    run: async (_client, id) => {
      await sandboxAdmin.fault({
        method: 'POST',
        path: '/payments/payments',
        fault: 'status',
        params: { code: 504 },
        times: 2,
      });
      await runOrder(id);
      return [orderWorkflowId(id)];
    },
  },
  {
    name: 'fulfill-order.parked-then-retried',
    run: async (_client, id) => {
      await sandboxAdmin.fault({ method: 'POST', path: '/email/send', fault: 'status', params: { code: 401 } });
      await runOrder(id, {}, async (c) => {
        const handle = c.temporal.workflow.getHandle(orderWorkflowId(id));
        await waitFor('the order to park', async () => (await handle.query(parkedState)) !== null, 30_000);
        await sandboxAdmin.clearFaults();
        await handle.executeUpdate(resolveParked, { args: [{ action: 'retry' }] });
      });
      return [orderWorkflowId(id)];
    },
  },
  {
    name: 'fulfill-order.compensated',
    run: async (_client, id) => {
      await sandboxAdmin.fault({ method: 'POST', path: '/email/send', fault: 'status', params: { code: 422 } });
      await runOrder(id);
      return [orderWorkflowId(id)];
    },
  },
  {
    name: 'fulfill-order.crm-v2-canary',
    run: async (_client, id) => {
      await runOrder(id, { crmV2: { darkLaunch: true, canaryPercent: 100 } });
      return [orderWorkflowId(id)];
    },
  },
  {
    name: 'fulfill-order.crm-v2-shadow-failed',
    run: async (_client, id) => {
      await sandboxAdmin.fault({ method: 'GET', path: '/crm/v2/customers', fault: 'status', params: { code: 500 } });
      await runOrder(id, { crmV2: { darkLaunch: true, canaryPercent: 0 } });
      return [orderWorkflowId(id)];
    },
  },
  {
    name: 'fulfill-order.invoice-by-webhook',
    run: async (_client, id) => {
      const receiver = await startReceiver({
        providers: [{ definition: documentsWebhooks, secrets: [process.env.WEBHOOK_DOCUMENTS_SECRETS!] }],
        temporal: { address: testEnv.temporalAddress },
        logger: createLogger({ name: 'receiver', level: 'error' }),
      });
      try {
        await sandboxAdmin.config({ webhook: { target: `${receiver.url}/webhooks/documents` } });
        await runOrder(id, { invoice: { mode: 'timers', interval: '1 hour' } });
      } finally {
        await sandboxAdmin.config({ webhook: { target: null } });
        await receiver.close();
      }
      return [orderWorkflowId(id)];
    },
  },
  { name: 'await-document-job.deadline-heartbeat', run: (client, id) => jobFor(client, id, 'heartbeat') },
  { name: 'await-document-job.deadline-retry', run: (client, id) => jobFor(client, id, 'retry') },
  {
    name: 'await-document-job.deadline-timers-continued',
    run: (client, id) => jobFor(client, id, 'timers', { pollsPerRun: 2 }),
  },
  {
    name: 'await-document-job.webhook-first',
    run: async (client, id) => {
      const jobId = await slowJob(id);
      const handle = await client.workflow.start<typeof awaitDocumentJob>('awaitDocumentJob', {
        taskQueue: WORKFLOWS_TASK_QUEUE,
        workflowId: documentJobWorkflowId(jobId),
        args: [{ jobId, mode: 'timers', deadline: Date.now() + 60_000, interval: '1 hour' }],
      });
      await handle.signal(documentJobFinished, {
        jobId,
        status: 'completed',
        documentUrl: 'https://docs.example.com/x.pdf',
        source: 'webhook',
      });
      await handle.result();
      return [handle.workflowId];
    },
  },
];

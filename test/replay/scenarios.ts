import { deepStrictEqual } from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { WorkflowNotFoundError, type Client, type WorkflowHandle } from '@temporalio/client';
import { Client as PgClient } from 'pg';
import type { CrmSyncResult } from '../../src/activities/crm-sync.activities';
import { chargeRequest, IntegrationsClient } from '../../src/client';
import { payments } from '../../src/integrations/payments/payments.integration';
import { documents, type DocumentJob } from '../../src/integrations/documents/documents.integration';
import { IntegrationEngine } from '../../src/integrations/runtime/engine';
import { createLogger } from '../../src/observability/logger';
import { documentsWebhooks } from '../../src/webhooks/providers';
import { startReceiver } from '../../src/webhooks/server';
import type { awaitDocumentJob } from '../../src/workflows/await-document-job.workflow';
import { BULK_RESOLVE_WORKFLOW, type BulkResolveProgress } from '../../src/contracts/bulk-resolve';
import type { resolveParkedInBulk } from '../../src/workflows/resolve-parked-in-bulk.workflow';
import { startBulk } from '../../src/client/bulk-lane';
import type { sendInBulk } from '../../src/workflows/send-in-bulk.workflow';
import {
  bulkBatchWorkflowId,
  bulkChunkItems,
  type BulkBatchSummary,
  type SendInBulkInput,
} from '../../src/contracts/bulk-lane';
import { email } from '../../src/integrations/email/email.integration';
import {
  acquireProbe,
  controlState,
  controlWorkflowId,
  forceBreaker,
  reportOutcomes,
  setKillSwitch,
  type ControlConfig,
  type OutcomeReport,
} from '../../src/control/messages';
import type { EmailBatcherInput, emailBatcher } from '../../src/workflows/email-batcher.workflow';
import type { integrationControl } from '../../src/control/integration-control.workflow';
import {
  batcherState,
  documentJobFinished,
  documentJobWorkflowId,
  orderWorkflowId,
  parkedState,
  queueEmail,
  resolveParked,
  type BatcherState,
  type OrderStatus,
  type ParkedInfo,
  type QueuedEmail,
} from '../../src/contracts/messages';
import type {
  ProcessWebhookEventResult,
  WebhookEventInput,
  processWebhookEvent,
} from '../../src/workflows/process-webhook-event.workflow';
import type { StepPath } from '../../src/workflows/patterns/steps';
import type { SyncCrmCustomersInput, syncCrmCustomers } from '../../src/workflows/sync-crm.workflow';
import { WORKFLOWS_TASK_QUEUE } from '../../src/contracts/task-queues';
import type { watchProviderStatus } from '../../src/workflows/watch-provider-status.workflow';
import { clientErrorReportId } from '../../src/contracts/reports';
import type {
  reportClientErrors,
  reportIntegrationClientErrors,
} from '../../src/workflows/report-client-errors.workflow';
import { NativeConnection } from '@temporalio/worker';
import { createWorkers, runWorkers } from '../../src/workers/worker';
import { bankAnswers, payrollEnv, startPayrollExchange, withPayrollWorker } from '../support/payroll-exchange';
import { sandboxAdmin, type LedgerEntry } from '../support/sandbox';
import { startSftpServer } from '../support/sftp-server';
import { testEnv } from '../support/temporal';
import { waitFor } from '../support/wait';

/**
 * The runs whose histories are committed under test/replay/histories: every path through the
 * production workflows, fault paths included. `npm run record-histories` re-records all of them;
 * `npm run record-histories -- <name-prefix> [...]` only those whose names start with a prefix.
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

/**
 * An order through startOrder's fast path (`directCalls`): started, its charge sent from here. `alongside`:
 * as recorded before the charge step waited for that send (the order is not told its end is signalled, so
 * the step sends at once, alongside it); otherwise `startOrder` itself, whose step waits for its signal.
 */
async function runDirectOrder(temporal: Client, id: string, alongside: boolean): Promise<void> {
  const engine = new IntegrationEngine({ logger: createLogger({ name: 'replay', level: 'error' }) });
  const client = await IntegrationsClient.connect({ address: testEnv.temporalAddress, directCalls: engine });
  try {
    if (alongside) {
      const input = order(id);
      const workflowId = orderWorkflowId(id);
      await temporal.workflow.start('fulfillOrder', {
        taskQueue: WORKFLOWS_TASK_QUEUE,
        workflowId,
        args: [{ ...input, directCharge: { sentUntil: Date.now() + 5_000 } }],
      });
      await engine.call(payments, 'createPayment', chargeRequest(workflowId, input), { attempt: 1, workflowId });
    } else {
      const started = await client.startOrder(order(id));
      if (started.answeredBy !== 'direct call')
        throw new Error(`not answered by the direct call: ${started.answeredBy}`);
    }
    await client.orderResult(id);
  } finally {
    await client.close();
    await engine.close();
  }
}

/** A real document job at the sandbox that will not finish for a minute. */
async function slowJob(id: string): Promise<string> {
  const runtime = new IntegrationEngine({ logger: createLogger({ name: 'replay', level: 'error' }) });
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

/** Fails the recording when a run took another path than the one its scenario is there to record. */
function expectSame<T>(what: string, actual: T, expected: T): void {
  deepStrictEqual(actual, expected, `${what}: got ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`);
}

const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** `effect@step` of every ledger entry keyed by this workflow's steps, in ledger order. */
async function effectsOf(workflowId: string): Promise<string[]> {
  const ledger: LedgerEntry[] = await sandboxAdmin.ledger();
  return ledger
    .filter((e) => e.idempotencyKey?.startsWith(`${workflowId}:`))
    .map((e) => `${e.effect}@${e.idempotencyKey!.split(':').pop()}`);
}

const countOf = (effects: string[], effect: string) => effects.filter((e) => e.startsWith(`${effect}@`)).length;

/** The paths each step took, from the order's memo `steps`. */
async function stepPaths(client: Client, workflowId: string): Promise<Record<string, StepPath[]>> {
  const { memo } = await client.workflow.getHandle(workflowId).describe();
  return (memo as { steps?: Record<string, StepPath[]> } | undefined)?.steps ?? {};
}

/** The parts of an order's result a scenario is about. */
const outcomeOfOrder = (s: OrderStatus) => ({
  stage: s.stage,
  ...(s.cancelled ? { cancelled: true } : {}),
  ...(s.compensated ? { compensated: s.compensated } : {}),
  ...(s.notCompensated ? { notCompensated: s.notCompensated } : {}),
});

/**
 * An order driven as a service and an operator would: started (update-with-start, whose answer comes once
 * the charge is settled), then `during` acts on it while it runs; returns the charge answer and its result.
 */
async function driveOrder(
  id: string,
  extra: Partial<Parameters<IntegrationsClient['startOrder']>[0]>,
  during: (c: IntegrationsClient, workflowId: string) => Promise<void>,
) {
  const client = await IntegrationsClient.connect({ address: testEnv.temporalAddress });
  try {
    const started = client.startOrder(order(id, extra));
    started.catch(() => undefined); // awaited below, after `during`
    const workflowId = orderWorkflowId(id);
    await waitFor('the order to start', () =>
      client.temporal.workflow
        .getHandle(workflowId)
        .describe()
        .then(
          () => true,
          (err: unknown) => {
            if (err instanceof WorkflowNotFoundError) return false;
            throw err;
          },
        ),
    );
    await during(client, workflowId);
    const { charge } = await started;
    return { charge, result: await client.orderResult(id) };
  } finally {
    await client.close();
  }
}

/** Waits until the order is parked at `step`. */
async function parkedAt(c: IntegrationsClient, workflowId: string, step: string, timeoutMs: number): Promise<void> {
  const handle = c.temporal.workflow.getHandle(workflowId);
  await waitFor(
    `the order to park at "${step}"`,
    async () => (await handle.query(parkedState))?.step === step,
    timeoutMs,
  );
}

/** Three charges through the high-volume lane, one at a time (so each fault meets the item it is meant for). */
const bulkCharges = (id: string) =>
  ['a', 'b', 'c'].map((key, i) => ({ key, body: { orderId: `${id}-${key}`, amount: 100 + i, currency: 'EUR' } }));

/**
 * A payments batch parked on one item whose outcome stayed unknown (`patched('bulk-park-unknown')`): `a` is
 * charged but answered 504, its resend with the same key is refused (a 422 after a resend proves nothing),
 * its lookup is down; `b` and `c` go through. Returns the batch's workflow handle, parked, faults cleared.
 */
async function bulkParkedOnUnknown(client: Client, id: string) {
  const faults = [
    { fault: 'commit-then-504', params: { ms: 0 }, times: 1 },
    { fault: 'status', params: { code: 422 }, times: 1 },
  ];
  for (const f of faults) await sandboxAdmin.fault({ method: 'POST', path: '/payments/payments', exact: true, ...f });
  await sandboxAdmin.fault({ method: 'GET', path: '/payments/payments', fault: 'status', params: { code: 400 } });
  const bulk = await startBulk(client, {
    integration: 'payments',
    endpoint: 'createPayment',
    batchId: id,
    items: bulkCharges(id),
    concurrency: 1,
  });
  const handle = client.workflow.getHandle<typeof sendInBulk>(bulk.workflowIds[0]!);
  await waitFor('the batch to park', async () => (await handle.query(parkedState)) !== null, 60_000);
  const parked = (await handle.query(parkedState))!;
  expectSame('the parked items', parked.items, { count: 1, keys: ['a'] });
  await sandboxAdmin.clearFaults();
  return handle;
}

/**
 * A batch whose activity was refused its credentials until its budget (3 s) ran out, parked with every item
 * its last heartbeat had not settled (`patched('bulk-park-unfinished')`); started as the client would, with
 * a budget short enough to spend. `chunkItems`: a rate-limited integration's batch, sent as chunks.
 */
async function bulkParkedOnBudget(client: Client, id: string, input: Omit<SendInBulkInput, 'budgetMs' | 'batchId'>) {
  const path = input.integration === 'email' ? '/email/send' : '/payments/payments';
  await sandboxAdmin.fault({ method: 'POST', path, exact: true, fault: 'status', params: { code: 401 } });
  const handle = await client.workflow.start<typeof sendInBulk>('sendInBulk', {
    taskQueue: WORKFLOWS_TASK_QUEUE,
    workflowId: bulkBatchWorkflowId(input.integration, input.endpoint, id, input.batchIndex),
    args: [{ ...input, batchId: id, budgetMs: 3_000 } satisfies SendInBulkInput],
  });
  await waitFor('the batch to park', async () => (await handle.query(parkedState)) !== null, 60_000);
  const parked = (await handle.query(parkedState))!;
  expectSame('the parked items', parked.items?.count, input.items.length);
  await sandboxAdmin.clearFaults();
  return handle;
}

/** Waits until the batch is parked in round `round` (its `attempts`): parked again after a decision. */
async function bulkParkedInRound(handle: WorkflowHandle<typeof sendInBulk>, round: number): Promise<ParkedInfo> {
  await waitFor(
    `the batch to park in round ${round}`,
    async () => (await handle.query(parkedState))?.attempts === round,
    60_000,
  );
  return (await handle.query(parkedState))!;
}

/**
 * One `integrationControl` (ID `control-<integration>`) through its whole life: failures open the
 * breaker, a probe asked for during the cooldown is refused, one after it is granted (and only one), the
 * failed probe reopens the breaker, a good one closes it; operators force the breaker and flip kill
 * switches; then outcome reports, as workers send them, grow the history until it continues as new, and
 * the next run carries the state on. `integration` is a throwaway name: no worker reports to it.
 */
async function controlLifecycle(client: Client, integration: string): Promise<string[]> {
  const config: ControlConfig = { integration, failures: 3, cooldownMs: 1_500 };
  const workflowId = controlWorkflowId(integration);
  // As ControlPlane.flush reports: signalWithStart on the workflows queue, so the first report starts it.
  const report = (outcomes: OutcomeReport) =>
    client.workflow.signalWithStart<typeof integrationControl, [OutcomeReport]>('integrationControl', {
      taskQueue: WORKFLOWS_TASK_QUEUE,
      workflowId,
      args: [config],
      signal: reportOutcomes,
      signalArgs: [outcomes],
    });
  const handle = client.workflow.getHandle<typeof integrationControl>(workflowId);
  const breaker = async () => (await handle.query(controlState)).breaker;
  const probe = () => handle.executeUpdate(acquireProbe);
  const reason = 'recorded replay scenario';

  const { signaledRunId: firstRunId } = await report({
    outcomes: ['ok', 'fail', 'fail'],
    lastFailureType: 'ServerError',
  });
  await report({ outcomes: ['fail'], lastFailureType: 'Timeout' }); // the third failure in a row
  await waitFor('the breaker to open', async () => (await breaker()).openedAt !== undefined, 10_000);
  const firstOpenedAt = (await breaker()).openedAt;
  expectSame('a probe during the cooldown', await probe(), false);
  await pause(config.cooldownMs + 250);
  expectSame('the first probe after the cooldown', await probe(), true);
  expectSame('a second probe while the first is out', await probe(), false);
  await report({ outcomes: ['fail'], lastFailureType: 'ServerError', probe: true });
  await waitFor('the failed probe to reopen it', async () => (await breaker()).openedAt !== firstOpenedAt, 10_000);
  await pause(config.cooldownMs + 250);
  expectSame('the probe after the second cooldown', await probe(), true);
  await report({ outcomes: ['ok'], probe: true });
  await waitFor('the good probe to close it', async () => (await breaker()).state === 'closed', 10_000);

  const force = async (mode: 'open' | 'closed' | 'auto') =>
    (await handle.executeUpdate(forceBreaker, { args: [{ mode, reason }] })).state;
  expectSame('forced open', await force('open'), 'open');
  expectSame('forced closed', await force('closed'), 'closed');
  expectSame('back to automatic', await force('auto'), 'closed');
  const kill = (on: boolean, endpoint?: string) =>
    handle.executeUpdate(setKillSwitch, { args: [{ ...(endpoint ? { endpoint } : {}), on, reason }] });
  expectSame('an endpoint switched off', await kill(true, 'listCustomers'), {
    integration: false,
    endpoints: ['listCustomers'],
  });
  expectSame('the whole integration off', await kill(true), { integration: true, endpoints: ['listCustomers'] });
  expectSame('the whole integration on again', await kill(false), {
    integration: false,
    endpoints: ['listCustomers'],
  });

  // Reports as a fleet of workers sends them, a few at once, until the run hands over (historyLength > 2000).
  for (let round = 0; (await handle.describe()).runId === firstRunId; round += 1) {
    if (round > 500) throw new Error('integrationControl did not continue as new');
    await Promise.all(Array.from({ length: 20 }, () => report({ outcomes: ['ok', 'ok'] })));
  }
  expectSame('the state the new run carried', (await handle.query(controlState)).killSwitch, {
    integration: false,
    endpoints: ['listCustomers'],
  });
  await report({ outcomes: ['fail'], lastFailureType: 'NetworkError' });
  expectSame('the endpoint back on, in the new run', await kill(false, 'listCustomers'), {
    integration: false,
    endpoints: [],
  });
  expectSame('the report the new run counted', (await breaker()).consecutiveFailures, 1);
  await handle.terminate('replay recording done (it runs forever otherwise)');
  return [workflowId];
}

/**
 * An `emailBatcher` started and fed as services do (signalWithStart): a full batch leaves by size, the
 * next by its timer, a malformed message is dropped when queued, the run continues as new after its
 * `flushesPerRun`, and cancelling the next run drains what waits.
 */
async function emailBatcherLifecycle(client: Client, workflowId: string): Promise<string[]> {
  const input: EmailBatcherInput = { maxBatchSize: 3, maxWait: '3 seconds', flushesPerRun: 2 };
  const queue = (message: QueuedEmail) =>
    client.workflow.signalWithStart<typeof emailBatcher, [QueuedEmail]>('emailBatcher', {
      workflowId,
      taskQueue: WORKFLOWS_TASK_QUEUE,
      args: [input],
      signal: queueEmail,
      signalArgs: [message],
    });
  const mail = (n: number): QueuedEmail => ({ to: `user${n}@example.com`, subject: `message ${n}`, body: `body ${n}` });
  const handle = client.workflow.getHandle<typeof emailBatcher>(workflowId);

  const { signaledRunId: firstRunId } = await queue(mail(1));
  for (const n of [2, 3, 4]) await queue(mail(n)); // 1-3 fill a batch; 4 waits for the timer
  await queue({ to: 'not an address', subject: 'malformed', body: '' });
  await waitFor(
    'the timer flush and continue-as-new',
    async () => (await handle.describe()).runId !== firstRunId,
    20_000,
  );
  for (const n of [5, 6]) await queue(mail(n));
  await waitFor('both to wait in the new run', async () => (await handle.query(batcherState)).pending === 2, 10_000);
  await handle.cancel();
  const final: BatcherState = await handle.result();
  expectSame(
    'the flushes',
    final.recent.map((f) => `${f.batch}:${f.size}:${f.reason}:${f.outcome}`),
    ['1:3:size:sent', '2:1:timer:sent', '3:2:drain:sent'],
  );
  expectSame(
    'the counters',
    {
      flushes: final.flushes,
      sent: final.sent,
      rejected: final.rejected,
      refused: final.refused,
      pending: final.pending,
    },
    { flushes: 3, sent: 6, rejected: 1, refused: 0, pending: 0 },
  );
  return [workflowId];
}

/**
 * `watchProviderStatus` on the payments status page, polled every second: the first read (no incident)
 * is published; an incident is declared and published; the page fails (502, retried, then noted) and
 * recovers; the incident is resolved; the watcher continues as new after 12 reads, carrying what the page
 * said. Terminated at the end: it would run forever.
 */
async function providerStatusWatch(client: Client, workflowId: string): Promise<string[]> {
  const handle = await client.workflow.start<typeof watchProviderStatus>('watchProviderStatus', {
    taskQueue: WORKFLOWS_TASK_QUEUE,
    workflowId,
    args: [{ integration: 'payments', pollEvery: '1 second', pollsPerRun: 12 }],
  });
  const control = client.workflow.getHandle(controlWorkflowId('payments'));
  const provider = async () => {
    try {
      return (await control.query(controlState)).provider;
    } catch {
      return undefined;
    }
  };
  await waitFor('the first read', async () => (await provider()) !== undefined, 30_000, 200);
  const { id } = await sandboxAdmin.declareIncident('payments', { name: 'Recorded incident', impact: 'major' });
  await waitFor('the incident', async () => (await provider())?.incidents[0]?.id === id, 30_000, 200);
  await sandboxAdmin.fault({ path: '/status/payments', fault: 'status', params: { code: 502 } });
  await waitFor('the read error', async () => !!(await provider())?.readError, 60_000, 200);
  await sandboxAdmin.clearFaults();
  await waitFor('the page read again', async () => !(await provider())?.readError, 60_000, 200);
  await sandboxAdmin.updateIncident('payments', id, { status: 'resolved' });
  await waitFor('the incident resolved', async () => (await provider())?.incidents.length === 0, 30_000, 200);
  await waitFor(
    'a continued run',
    async () => (await handle.describe()).runId !== handle.firstExecutionRunId,
    60_000,
    200,
  );
  await waitFor(
    'the continued run to read the page once',
    async () => ((await handle.describe()).historyLength ?? 0) > 12,
    30_000,
    200,
  );
  await handle.terminate('recorded replay scenario: the watcher runs forever');
  await sandboxAdmin.clearIncidents();
  return [workflowId];
}

/**
 * A short `integrationControl` life for the probe's own outcome (`probeOutcome`, as current workers report
 * it, never mixed into `outcomes`): failures open the breaker; after the cooldown a probe is granted and
 * fails (reopened), the next one sends nothing (`void`: another may go at once), the one after it succeeds
 * (closed). `integration` is a throwaway name: no worker reports to it.
 */
async function controlProbeOutcome(client: Client, integration: string): Promise<string[]> {
  const config: ControlConfig = { integration, failures: 2, cooldownMs: 1_500 };
  const workflowId = controlWorkflowId(integration);
  const report = (outcomes: OutcomeReport) =>
    client.workflow.signalWithStart<typeof integrationControl, [OutcomeReport]>('integrationControl', {
      taskQueue: WORKFLOWS_TASK_QUEUE,
      workflowId,
      args: [config],
      signal: reportOutcomes,
      signalArgs: [outcomes],
    });
  const handle = client.workflow.getHandle<typeof integrationControl>(workflowId);
  const breaker = async () => (await handle.query(controlState)).breaker;
  const probe = () => handle.executeUpdate(acquireProbe);

  await report({ outcomes: ['fail', 'fail'], lastFailureType: 'ServerError' });
  await waitFor('the breaker to open', async () => (await breaker()).openedAt !== undefined, 10_000);
  const firstOpenedAt = (await breaker()).openedAt;
  await pause(config.cooldownMs + 250);
  expectSame('the first probe after the cooldown', await probe(), true);
  await report({ outcomes: [], lastFailureType: 'ServerError', probeOutcome: 'fail' });
  await waitFor('the failed probe to reopen it', async () => (await breaker()).openedAt !== firstOpenedAt, 10_000);
  expectSame('a probe right after it reopened', await probe(), false);
  await pause(config.cooldownMs + 250);
  expectSame('the probe after the second cooldown', await probe(), true);
  expectSame('a second probe while it is out', await probe(), false);
  await report({ outcomes: [], probeOutcome: 'void' });
  await waitFor('the void probe to free the slot', async () => (await breaker()).probeGrantedAt === undefined, 10_000);
  expectSame('the breaker after a void probe', (await breaker()).state, 'half-open');
  expectSame('another probe at once', await probe(), true);
  await report({ outcomes: [], probeOutcome: 'ok' });
  await waitFor('the good probe to close it', async () => (await breaker()).state === 'closed', 10_000);
  expectSame(
    'the breaker history',
    (await handle.query(controlState)).history.map((h) => h.event.split(':')[0]),
    [
      'opened',
      'half-open',
      'opened',
      'half-open',
      'the probe sent nothing; the next call may probe',
      'half-open',
      'closed',
    ],
  );
  await handle.terminate('replay recording done (it runs forever otherwise)');
  return [workflowId];
}

/** The workflow ID both executions of the `email-batcher.keyed-per-chain.*` scenarios share. */
const KEYED_BATCHER_ID = 'replay-email-batcher.keyed-per-chain';

/**
 * One execution of an `emailBatcher` with `KEYED_BATCHER_ID`, from its first signal to its cancellation
 * (drain): `batches` full batches of two leave by size, then `drained` messages leave with the drain. Checks
 * at the sandbox that every message was sent under a key with this execution's own chain (its first run ID).
 */
async function keyedBatcherExecution(client: Client, batches: number, drained: number): Promise<string> {
  const input: EmailBatcherInput = { maxBatchSize: 2, maxWait: '10 minutes', flushesPerRun: 100 };
  const queue = (message: QueuedEmail) =>
    client.workflow.signalWithStart<typeof emailBatcher, [QueuedEmail]>('emailBatcher', {
      workflowId: KEYED_BATCHER_ID,
      taskQueue: WORKFLOWS_TASK_QUEUE,
      args: [input],
      signal: queueEmail,
      signalArgs: [message],
    });
  const mail = (n: number): QueuedEmail => ({ to: `user${n}@example.com`, subject: `message ${n}`, body: `body ${n}` });
  const { signaledRunId: chain } = await queue(mail(1));
  const handle = client.workflow.getHandle<typeof emailBatcher>(KEYED_BATCHER_ID, chain);
  for (let n = 2; n <= batches * 2 + drained; n++) {
    await queue(mail(n));
    if (n % 2 === 0 && n <= batches * 2) {
      await waitFor(
        `batch ${n / 2} to leave`,
        async () => (await handle.query(batcherState)).flushes === n / 2,
        20_000,
      );
    }
  }
  await waitFor('the rest to wait', async () => (await handle.query(batcherState)).pending === drained, 10_000);
  await handle.cancel();
  const final: BatcherState = await handle.result();
  const expected = [
    ...Array.from({ length: batches }, (_, i) => `${i + 1}:2:size:sent`),
    ...(drained > 0 ? [`${batches + 1}:${drained}:drain:sent`] : []),
  ];
  expectSame(
    'the flushes',
    final.recent.map((f) => `${f.batch}:${f.size}:${f.reason}:${f.outcome}`),
    expected,
  );
  const keys = (await sandboxAdmin.ledger())
    .filter((e) => e.effect === 'email.sent' && e.idempotencyKey?.startsWith(`${KEYED_BATCHER_ID}:${chain}:`))
    .map((e) => e.idempotencyKey!.slice(`${KEYED_BATCHER_ID}:${chain}:`.length));
  expectSame(
    "the messages sent under this chain's keys",
    keys,
    expected.flatMap((f) => {
      const [batch, size] = f.split(':');
      return Array.from({ length: Number(size) }, () => `batch-${batch}`);
    }),
  );
  return chain;
}

/** A verified webhook event as the receiver hands it to `processWebhookEvent`. */
function webhookEvent(jobId: string, extra: Partial<WebhookEventInput> = {}): WebhookEventInput {
  return {
    provider: 'documents',
    eventId: `evt_${randomBytes(8).toString('hex')}`,
    type: 'document.completed',
    createdAt: new Date().toISOString(),
    data: { jobId, documentUrl: `https://docs.example.com/${jobId}.pdf` },
    ...extra,
  };
}

function processEvent(client: Client, workflowId: string, event: WebhookEventInput) {
  return client.workflow.execute<typeof processWebhookEvent>('processWebhookEvent', {
    taskQueue: WORKFLOWS_TASK_QUEUE,
    workflowId,
    args: [event],
  });
}

const outcomeOf = (r: ProcessWebhookEventResult) => ({
  outcome: r.outcome,
  ...('attempts' in r ? { attempts: r.attempts } : {}),
});

/**
 * The local store the CRM sync scenarios write to: a database of the recording's own (created when
 * missing, never dropped), not the default `postgres` one. scripts/record-histories.ts points the
 * workers' `LOCAL_STORE_URL` at it.
 */
export const REPLAY_STORE_URL =
  process.env.REPLAY_STORE_URL ?? 'postgres://postgres@127.0.0.1:5432/durable_integrations_replay';

async function syncCrm(client: Client, workflowId: string, input: SyncCrmCustomersInput): Promise<CrmSyncResult> {
  if (process.env.LOCAL_STORE_URL !== REPLAY_STORE_URL) {
    throw new Error('the CRM sync scenarios write to REPLAY_STORE_URL only: run them with `npm run record-histories`');
  }
  const url = new URL(REPLAY_STORE_URL);
  const database = decodeURIComponent(url.pathname.slice(1));
  url.pathname = '/postgres';
  url.search = '';
  const admin = new PgClient({ connectionString: url.toString() });
  await admin.connect();
  try {
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (!rowCount) await admin.query(`CREATE DATABASE "${database.replace(/"/g, '""')}"`);
  } finally {
    await admin.end();
  }
  return client.workflow.execute<typeof syncCrmCustomers>('syncCrmCustomers', {
    taskQueue: WORKFLOWS_TASK_QUEUE,
    workflowId,
    args: [input],
  });
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
    name: 'fulfill-order.direct-charge-sent-alongside',
    run: async (client, id) => {
      await runDirectOrder(client, id, true);
      return [orderWorkflowId(id)];
    },
  },
  {
    name: 'fulfill-order.direct-charge-awaited',
    run: async (client, id) => {
      await runDirectOrder(client, id, false);
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
    name: 'fulfill-order.cancelled-after-charge',
    run: async (_client, id) => {
      const workflowId = orderWorkflowId(id);
      await sandboxAdmin.config({ jobMs: 60_000 }); // the invoice keeps the order waiting while it is cancelled
      try {
        const { charge, result } = await driveOrder(id, {}, async (c) => {
          // The invoice job is started and the order waits for it in its child workflow.
          await waitFor(
            'the order to wait for its invoice',
            async () =>
              ((await c.temporal.workflow.getHandle(workflowId).describe()).raw.pendingChildren ?? []).length > 0,
            20_000,
          );
          await c.temporal.workflow.getHandle(workflowId).cancel();
        });
        expectSame('the charge answer', charge.charged, true);
        expectSame('the result', outcomeOfOrder(result), {
          stage: 'compensated',
          cancelled: true,
          compensated: ['crm-note', 'charge'],
        });
      } finally {
        await sandboxAdmin.config({ jobMs: 1_500 });
      }
      expectSame('the effects', await effectsOf(workflowId), [
        'payment.created@charge',
        'customer.updated@crm-pending',
        'customer.updated@crm-pending-undo',
        'refund.created@refund',
      ]);
      return [workflowId];
    },
  },
  {
    name: 'fulfill-order.cancelled-mid-charge-settled',
    run: async (client, id) => {
      const workflowId = orderWorkflowId(id);
      await sandboxAdmin.fault({ method: 'POST', path: '/payments/payments', fault: 'commit-then-hang', times: 1 });
      const { charge, result } = await driveOrder(id, {}, async (c) => {
        // The provider applied it and holds the answer back: cancel now, while the outcome is unknown.
        await waitFor(
          'the charge to be applied',
          async () => countOf(await effectsOf(workflowId), 'payment.created') === 1,
          20_000,
        );
        await c.temporal.workflow.getHandle(workflowId).cancel();
      });
      expectSame('the charge answer', charge.charged, true);
      expectSame('the result', outcomeOfOrder(result), {
        stage: 'compensated',
        cancelled: true,
        compensated: ['charge'],
      });
      expectSame('the charge path', (await stepPaths(client, workflowId)).charge, ['settled-after-cancel']);
      expectSame('the effects', await effectsOf(workflowId), ['payment.created@charge', 'refund.created@refund']);
      return [workflowId];
    },
  },
  {
    name: 'fulfill-order.undo-failed-parked-then-skipped',
    run: async (_client, id) => {
      const workflowId = orderWorkflowId(id);
      const customerId = 'cus_0043';
      await sandboxAdmin.config({ jobMs: 1_000 });
      await sandboxAdmin.fault({ method: 'POST', path: '/email/send', fault: 'status', params: { code: 422 } });
      try {
        const { result } = await driveOrder(id, { customerId }, async (c) => {
          // The note is written; from now on this customer's CRM record refuses every change.
          await waitFor(
            'the order to wait for its invoice',
            async () => (await c.orderStatus(id)).stage === 'invoicing',
            20_000,
          );
          await sandboxAdmin.fault({
            method: 'PATCH',
            path: `/crm/customers/${customerId}`,
            fault: 'status',
            params: { code: 422 },
          });
          await parkedAt(c, workflowId, 'undo crm-note', 60_000);
          // The refund ran although the CRM restore before it failed.
          expectSame('refunds while parked', countOf(await effectsOf(workflowId), 'refund.created'), 1);
          await c.temporal.workflow
            .getHandle(workflowId)
            .executeUpdate(resolveParked, { args: [{ action: 'skip', result: null }] });
        });
        expectSame('the result', outcomeOfOrder(result), {
          stage: 'compensated',
          compensated: ['charge', 'crm-note (by an operator)'],
        });
      } finally {
        await sandboxAdmin.config({ jobMs: 1_500 });
      }
      return [workflowId];
    },
  },
  {
    name: 'fulfill-order.poison-parked-then-compensated',
    run: async (client, id) => {
      const workflowId = orderWorkflowId(id);
      const customerId = 'cus_0044';
      await sandboxAdmin.fault({ method: 'PATCH', path: `/crm/customers/${customerId}`, fault: 'schema-violation' });
      const { result } = await driveOrder(id, { customerId }, async (c) => {
        await parkedAt(c, workflowId, 'crm-pending', 90_000);
        const parked = await c.temporal.workflow.getHandle(workflowId).query(parkedState);
        expectSame('where it parked', [parked?.endpoint, parked?.failureType], ['updateCustomer', 'InvalidResponse']);
        await sandboxAdmin.clearFaults();
        await c.temporal.workflow
          .getHandle(workflowId)
          .executeUpdate(resolveParked, { args: [{ action: 'compensate' }] });
      });
      expectSame('the result', outcomeOfOrder(result), { stage: 'compensated', compensated: ['charge'] });
      const history = await client.workflow.getHandle(workflowId).fetchHistory();
      const resendTimers = (history.events ?? [])
        .map((e) => e.userMetadata?.summary?.data)
        .filter((d) => d && Buffer.from(d).toString().includes('before resend')).length;
      expectSame('the timed resends', resendTimers, 5);
      const effects = await effectsOf(workflowId);
      // The provider applied the poisoned PATCH once (same key every time) and the charge was refunded once.
      expectSame('the effects', [countOf(effects, 'customer.updated'), countOf(effects, 'refund.created')], [1, 1]);
      return [workflowId];
    },
  },
  {
    name: 'fulfill-order.charge-unknown-then-refused-found-by-lookup',
    run: async (client, id) => {
      const workflowId = orderWorkflowId(id);
      // Attempt 1 is applied and answered 504 (outcome unknown); attempt 2, the last, is answered 503
      // without being applied: a definite-looking answer that proves nothing about attempt 1.
      await sandboxAdmin.fault({
        method: 'POST',
        path: '/payments/payments',
        fault: 'commit-then-504',
        params: { ms: 10 },
        times: 1,
      });
      await sandboxAdmin.fault({
        method: 'POST',
        path: '/payments/payments',
        fault: 'status',
        params: { code: 503 },
        times: 1,
      });
      const { charge, result } = await driveOrder(id, {}, async () => {});
      expectSame('the charge answer', charge.charged, true);
      expectSame('the result', outcomeOfOrder(result), { stage: 'completed' });
      expectSame('the charge path', (await stepPaths(client, workflowId)).charge, ['found-by-lookup']);
      expectSame('payments', countOf(await effectsOf(workflowId), 'payment.created'), 1);
      return [workflowId];
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
    // v1 has notes, v2 drops them: a disagreement, recorded as drift by recordDarkLaunchDrift.
    name: 'fulfill-order.crm-v2-shadow-mismatch-drift',
    run: async (_client, id) => {
      const customerId = 'cus_0044';
      const patched = await fetch(`${process.env.CRM_URL}/customers/${customerId}`, {
        method: 'PATCH',
        headers: {
          'content-type': 'application/json',
          'x-api-key': process.env.CRM_API_KEY!,
          'idempotency-key': `replay-notes-${id}`,
        },
        body: JSON.stringify({ notes: 'prefers email' }),
      });
      expectSame('the notes update', patched.status, 200);
      await sandboxAdmin.fault({
        method: 'GET',
        path: `/crm/v2/customers/${customerId}`,
        exact: true,
        fault: 'drift',
        params: { drop: 'notes' },
      });
      await runOrder(id, { customerId, crmV2: { darkLaunch: true, canaryPercent: 0 } });
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
  {
    // Two orders parked on email, resolved by one bulk job at 1 a second, one window per run: it lists,
    // sends, sleeps, continues as new, sends the second and completes.
    name: 'resolve-parked-in-bulk.two-windows-continued',
    run: async (client, id) => {
      await sandboxAdmin.fault({ method: 'POST', path: '/email/send', fault: 'status', params: { code: 401 } });
      const orders = [`${id}-a`, `${id}-b`];
      const service = await IntegrationsClient.connect({ address: testEnv.temporalAddress });
      try {
        for (const orderId of orders) await service.startOrder(order(orderId));
        const query = `NeedsAttention = true AND WorkflowId IN (${orders.map((o) => `'${orderWorkflowId(o)}'`).join(', ')})`;
        await waitFor('both orders to park', async () => (await client.workflow.count(query)).count === 2, 60_000);
        await sandboxAdmin.clearFaults();
        const handle = await client.workflow.start<typeof resolveParkedInBulk>(BULK_RESOLVE_WORKFLOW, {
          taskQueue: WORKFLOWS_TASK_QUEUE,
          workflowId: `bulk-resolve-${id}`,
          args: [
            {
              request: {
                query,
                decision: { action: 'retry' },
                ratePerSecond: 1,
                reason: 'replay recording',
                requestedBy: 'record-histories',
              },
              windowsPerRun: 1,
            },
          ],
        });
        const progress: BulkResolveProgress = await handle.result();
        expectSame(
          'the bulk job',
          { state: progress.state, resolved: progress.resolved, runs: progress.runs },
          {
            state: 'completed',
            resolved: 2,
            runs: 2,
          },
        );
        for (const orderId of orders) await service.orderResult(orderId);
        return [handle.workflowId];
      } finally {
        await service.close();
      }
    },
  },
  {
    // Three charges through the high-volume lane, one refused (422): two succeed, one is recorded failed.
    name: 'send-in-bulk.one-item-refused',
    run: async (client, id) => {
      await sandboxAdmin.fault({
        method: 'POST',
        path: '/payments/payments',
        fault: 'status',
        params: { code: 422 },
        times: 1,
      });
      const handle = await startBulk(client, {
        integration: 'payments',
        endpoint: 'createPayment',
        batchId: id,
        items: ['a', 'b', 'c'].map((key, i) => ({
          key,
          body: { orderId: `${id}-${key}`, amount: 100 + i, currency: 'EUR' },
        })),
        concurrency: 1,
      });
      const summary = await handle.result();
      expectSame(
        'the batch',
        { succeeded: summary.succeeded, failed: summary.failed, unknown: summary.unknown },
        { succeeded: 2, failed: 1, unknown: 0 },
      );
      return handle.workflowIds;
    },
  },
  // The bulk lane's parked paths: a batch parked on an item whose outcome stayed unknown, then each of the
  // operator's decisions; and batches parked because their activity failed for good (its budget ran out).
  {
    // The unknown item resent with its key: the provider answers with its first charge (no second one).
    name: 'send-in-bulk.unknown-parked-then-retried',
    run: async (client, id) => {
      const handle = await bulkParkedOnUnknown(client, id);
      await handle.executeUpdate(resolveParked, { args: [{ action: 'retry' }] });
      const summary: BulkBatchSummary = await handle.result();
      expectSame(
        'the batch',
        { succeeded: summary.succeeded, unknown: summary.unknown, operatorRetries: summary.operatorRetries },
        { succeeded: 3, unknown: 0, operatorRetries: 1 },
      );
      // One charge per item: the resend of `a` was answered by its first charge.
      expectSame('the charges', (await effectsOf(handle.workflowId)).sort(), [
        'payment.created@a',
        'payment.created@b',
        'payment.created@c',
      ]);
      return [handle.workflowId];
    },
  },
  {
    // The operator checked with the provider and accepts the item as it is.
    name: 'send-in-bulk.unknown-parked-then-skipped',
    run: async (client, id) => {
      const handle = await bulkParkedOnUnknown(client, id);
      await handle.executeUpdate(resolveParked, { args: [{ action: 'skip', result: null }] });
      const summary: BulkBatchSummary = await handle.result();
      expectSame(
        'the batch',
        { succeeded: summary.succeeded, unknown: summary.unknown, skippedKeys: summary.skippedKeys },
        { succeeded: 2, unknown: 0, skippedKeys: ['a'] },
      );
      return [handle.workflowId];
    },
  },
  {
    // The operator ends the batch failed, with the unknown item's key in its failure.
    name: 'send-in-bulk.unknown-parked-then-failed',
    run: async (client, id) => {
      const handle = await bulkParkedOnUnknown(client, id);
      await handle.executeUpdate(resolveParked, { args: [{ action: 'fail', reason: 'replay recording' }] });
      const failure = await handle.result().then(
        () => undefined,
        (err: Error & { cause?: Error & { type?: string } }) => err.cause,
      );
      expectSame('the failure', failure?.type, 'OperatorFailed');
      return [handle.workflowId];
    },
  },
  {
    // The activity retried (401) until its budget was spent: its 3 items park unfinished. A retry then is
    // refused (a resend past the budget could apply twice): it parks again, saying so; the operator skips.
    name: 'send-in-bulk.budget-spent-parked-retry-refused-then-skipped',
    run: async (client, id) => {
      const handle = await bulkParkedOnBudget(client, id, {
        integration: 'payments',
        endpoint: 'createPayment',
        batchIndex: 0,
        items: bulkCharges(id),
        concurrency: 3,
        write: true,
      });
      // Its activity failed once the next retry would overrun the budget: the rest of the 3 s runs out here.
      const { startTime } = await handle.describe();
      await pause(Math.max(0, startTime.getTime() + 3_000 - Date.now()));
      await handle.executeUpdate(resolveParked, { args: [{ action: 'retry' }] });
      const again = await bulkParkedInRound(handle, 2);
      expectSame('the refused retry', again.lastError.startsWith('not resent: the batch budget'), true);
      await handle.executeUpdate(resolveParked, { args: [{ action: 'skip', result: null }] });
      const summary: BulkBatchSummary = await handle.result();
      expectSame('the batch', { succeeded: summary.succeeded, skipped: summary.skipped }, { succeeded: 0, skipped: 3 });
      expectSame('charges', countOf(await effectsOf(handle.workflowId), 'payment.created'), 0);
      return [handle.workflowId];
    },
  },
  {
    // A rate-limited integration's batch in chunks: the first chunk's activity spends the budget (401), the
    // second is never sent; all 10 items park unfinished and the operator fails the batch.
    name: 'send-in-bulk.chunked-budget-spent-parked-then-failed',
    run: async (client, id) => {
      const chunkItems = bulkChunkItems(email.traffic!.ratePerSecond!);
      const items = Array.from({ length: chunkItems + 2 }, (_, i) => ({
        key: `m${i}`,
        body: { to: `user${i}@example.com`, subject: `message ${i}`, body: `body ${i}` },
      }));
      const handle = await bulkParkedOnBudget(client, id, {
        integration: 'email',
        endpoint: 'send',
        batchIndex: 0,
        items,
        concurrency: 2,
        write: true,
        chunkItems,
      });
      await handle.executeUpdate(resolveParked, { args: [{ action: 'fail', reason: 'replay recording' }] });
      const failure = await handle.result().then(
        () => undefined,
        (err: Error & { cause?: Error & { type?: string } }) => err.cause,
      );
      expectSame('the failure', failure?.type, 'OperatorFailed');
      return [handle.workflowId];
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
  {
    name: 'integration-control.breaker-probes-operators-continued',
    run: (client, id) => controlLifecycle(client, id),
  },
  {
    name: 'integration-control.probe-outcome',
    run: (client, id) => controlProbeOutcome(client, id),
  },
  {
    name: 'watch-provider-status.incident-unreadable-resolved-continued',
    run: (client, id) => providerStatusWatch(client, id),
  },
  {
    name: 'email-batcher.size-timer-malformed-continued-drained',
    run: (client, id) => emailBatcherLifecycle(client, id),
  },
  // One workflow ID, two executions (not a continue-as-new chain): a batcher that ended and was started
  // again. Each scenario records the execution it ran; the second also runs the first when it is missing.
  {
    name: 'email-batcher.keyed-per-chain.first-execution',
    run: async (client) => {
      await keyedBatcherExecution(client, 1, 1);
      return [KEYED_BATCHER_ID];
    },
  },
  {
    name: 'email-batcher.keyed-per-chain.started-again',
    run: async (client) => {
      let first: string | undefined;
      try {
        first =
          (await client.workflow.getHandle(KEYED_BATCHER_ID).describe()).raw.workflowExecutionInfo?.execution?.runId ??
          undefined;
      } catch (err) {
        if (!(err instanceof WorkflowNotFoundError)) throw err;
      }
      first ??= await keyedBatcherExecution(client, 1, 1);
      const again = await keyedBatcherExecution(client, 1, 0);
      if (again === first) throw new Error('the batcher was not started again: same run as the first execution');
      return [KEYED_BATCHER_ID];
    },
  },
  {
    name: 'process-webhook-event.signalled',
    run: async (client, id) => {
      const jobId = await slowJob(id);
      const waiter = await client.workflow.start<typeof awaitDocumentJob>('awaitDocumentJob', {
        taskQueue: WORKFLOWS_TASK_QUEUE,
        workflowId: documentJobWorkflowId(jobId),
        args: [{ jobId, mode: 'timers', deadline: Date.now() + 60_000, interval: '1 hour' }],
      });
      expectSame('the outcome', outcomeOf(await processEvent(client, id, webhookEvent(jobId))), {
        outcome: 'signalled',
        attempts: 1,
      });
      await waiter.result();
      return [id];
    },
  },
  {
    name: 'process-webhook-event.no-waiter',
    run: async (client, id) => {
      const event = webhookEvent(`job_${randomBytes(6).toString('hex')}`, { waiter: { attempts: 3, intervalMs: 200 } });
      expectSame('the outcome', outcomeOf(await processEvent(client, id, event)), {
        outcome: 'no-waiter',
        attempts: 3,
      });
      return [id];
    },
  },
  {
    name: 'process-webhook-event.ignored',
    run: async (client, id) => {
      const event = webhookEvent('job_unused', { type: 'document.archived', data: {} });
      expectSame('the outcome', outcomeOf(await processEvent(client, id, event)), { outcome: 'ignored' });
      return [id];
    },
  },
  {
    name: 'sync-crm-customers.full',
    run: async (client, id) => {
      expectSame('the sync', await syncCrm(client, id, { pageSize: 100 }), {
        stored: 250,
        pages: 3,
        resumedFrom: null,
      });
      return [id];
    },
  },
  {
    name: 'sync-crm-customers.resumed-from-cursor',
    run: async (client, id) => {
      // Rules apply in order: page 1 passes untouched, page 2 answers 500 twice (two failed attempts).
      await sandboxAdmin.fault({
        method: 'GET',
        path: '/crm/customers',
        fault: 'latency',
        params: { ms: 0 },
        times: 1,
      });
      await sandboxAdmin.fault({
        method: 'GET',
        path: '/crm/customers',
        fault: 'status',
        params: { code: 500 },
        times: 2,
      });
      const result = await syncCrm(client, id, { pageSize: 100 });
      expectSame(
        'the sync',
        { ...result, resumedFrom: result.resumedFrom && { ...result.resumedFrom, cursor: '…' } },
        {
          stored: 250,
          pages: 3,
          resumedFrom: { attempt: 3, cursor: '…', stored: 100 },
        },
      );
      return [id];
    },
  },
  // The payroll file exchange over SFTP: a real sshd and a payroll worker of the scenario's own.
  {
    // The 4xx report as a worker without PROMETHEUS_URL runs it: parent and child, no counts, said so.
    name: 'report-client-errors.no-metrics-source',
    run: async (client, id) => {
      const endMs = Date.UTC(2026, 11, 1);
      const summary = await withReportsWorker(() =>
        client.workflow.execute<typeof reportClientErrors>('reportClientErrors', {
          taskQueue: WORKFLOWS_TASK_QUEUE,
          workflowId: id,
          args: [{ period: 'daily', integrations: ['payments'], endMs }],
        }),
      );
      expectSame('the source', summary.reports[0]?.source, 'none');
      expectSame('the child', summary.reports[0]?.workflowId, clientErrorReportId('daily', 'payments', endMs));
      return [id];
    },
  },
  {
    // One integration's report (the child above), started on its own.
    name: 'report-integration-client-errors.no-metrics-source',
    run: async (client, id) => {
      const endMs = Date.UTC(2026, 11, 1);
      const report = await withReportsWorker(() =>
        client.workflow.execute<typeof reportIntegrationClientErrors>('reportIntegrationClientErrors', {
          taskQueue: WORKFLOWS_TASK_QUEUE,
          workflowId: id,
          args: [{ integration: 'payments', period: 'daily', startMs: endMs - 86_400_000, endMs }],
        }),
      );
      expectSame('the source', report.source, 'none');
      return [id];
    },
  },
  {
    name: 'exchange-payroll-file.answered',
    run: (client, id) =>
      withSftp(async (server) => {
        const handle = await startPayrollExchange(client, id, Buffer.from('employee,amount\nE1,100\n'));
        await bankAnswers(server, id, Buffer.from('E1,paid\n'));
        expectSame('the answer', (await handle.result()).request.delivered, 'uploaded');
        return [id];
      }),
  },
  {
    name: 'exchange-payroll-file.deadline',
    run: (client, id) =>
      withSftp(async () => {
        const handle = await startPayrollExchange(client, id, Buffer.from('E1,1\n'), '2 seconds');
        const failed = await handle.result().then(
          () => 'completed',
          () => 'failed',
        );
        expectSame('the exchange', failed, 'failed');
        return [id];
      }),
  },
];

async function withSftp<T>(fn: (server: Awaited<ReturnType<typeof startSftpServer>>) => Promise<T>): Promise<T> {
  const server = await startSftpServer();
  try {
    return await withPayrollWorker(payrollEnv(server), () => fn(server), { workflows: false });
  } finally {
    await server.close();
  }
}

/** Runs `fn` with a worker on the reports queue only (no Prometheus configured). */
async function withReportsWorker<T>(fn: () => Promise<T>): Promise<T> {
  const connection = await NativeConnection.connect({ address: testEnv.temporalAddress });
  const runtime = new IntegrationEngine({ logger: createLogger({ name: 'replay', level: 'error' }) });
  const workers = await createWorkers({
    connection,
    namespace: 'default',
    runtime,
    workflows: false,
    integrations: [],
    reports: {},
    shutdownGraceTime: '1 second',
  });
  const running = runWorkers(workers);
  try {
    return await fn();
  } finally {
    for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
    await running;
    await runtime.close();
    await connection.close();
  }
}

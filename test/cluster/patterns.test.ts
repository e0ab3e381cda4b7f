import { hostname } from 'node:os';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { IntegrationsClient } from '../../src/client';
import {
  batcherState,
  documentJobFinished,
  documentJobWorkflowId,
  orderWorkflowId,
  queueEmail,
  type BatcherState,
  type QueuedEmail,
} from '../../src/contracts/messages';
import { WORKFLOWS_TASK_QUEUE } from '../../src/contracts/task-queues';
import { controlState, controlWorkflowId, forceBreaker, type ControlState } from '../../src/control/messages';
import type { ServiceProcess } from '../../src/devserver/service-process';
import { documents, type DocumentJob } from '../../src/integrations/documents/documents.integration';
import { IntegrationEngine } from '../../src/integrations/runtime/engine';
import type { awaitDocumentJob, AwaitDocumentJobInput } from '../../src/workflows/await-document-job.workflow';
import type { EmailBatcherInput } from '../../src/workflows/email-batcher.workflow';
import { captureLogs } from '../support/log-capture';
import { sandboxAdmin, type LedgerEntry } from '../support/sandbox';
import { uniqueId } from '../support/temporal';
import { waitFor } from '../support/wait';
import {
  clusterWorker,
  completedOrderEffects,
  orderEffects,
  startClusterWithWorkers,
  type ClusterWithWorkers,
  type TestCluster,
} from './cluster-support';

/**
 * The workflow patterns on the real cluster (four server processes on PostgreSQL, SQL visibility), run by two
 * worker processes as production runs them: the two-step document job (polled on durable timers, ended early by
 * its webhook), the email batcher, the CRM v2 dark launch and canary, and the circuit breaker shared by two
 * worker processes through Temporal. This file's own cluster: own databases, own namespace, own task queues.
 */

let stack: ClusterWithWorkers;
let cluster: TestCluster;
let workers: ServiceProcess[] = [];
let client: IntegrationsClient;
const runtime = new IntegrationEngine({ logger: captureLogs().logger });

beforeAll(async () => {
  stack = await startClusterWithWorkers('patterns');
  ({ cluster, workers, client } = stack);
}, 600_000);

afterAll(async () => {
  await runtime.close();
  await stack?.dispose();
}, 60_000);

const temporal = (): Client => client.temporal;

describe('the two-step document job on the cluster', () => {
  /** Triggers a real document job at the sandbox (finishing after `jobMs`), as the invoice step does. */
  async function newJob(jobMs: number): Promise<{ jobId: string; key: string }> {
    await sandboxAdmin.config({ jobMs });
    const key = uniqueId('cluster-doc');
    const job = (await runtime.call(
      documents,
      'generate',
      { key, body: { template: 'invoice', data: { n: 1 } } },
      { attempt: 1 },
    )) as DocumentJob;
    return { jobId: job.jobId, key };
  }

  const start = (jobId: string, input: Partial<AwaitDocumentJobInput>) =>
    temporal().workflow.start<typeof awaitDocumentJob>('awaitDocumentJob', {
      taskQueue: WORKFLOWS_TASK_QUEUE,
      workflowId: documentJobWorkflowId(jobId),
      args: [{ jobId, mode: 'timers', deadline: Date.now() + 60_000, ...input }],
    });

  const generated = async (key: string) =>
    (await sandboxAdmin.ledger()).filter((e) => e.effect === 'document.generated' && e.idempotencyKey === key).length;

  afterAll(() => sandboxAdmin.config({ jobMs: 1500 }));

  it('finishes by polling on durable timers, continuing as new to keep its history short', async () => {
    const { jobId, key } = await newJob(3_000);
    const handle = await start(jobId, { mode: 'timers', interval: '300 ms', pollsPerRun: 3 });
    const result = await handle.result();
    expect(result).toMatchObject({ jobId, status: 'completed', source: 'poll' });
    expect((await handle.describe()).runId).not.toBe(handle.firstExecutionRunId); // it continued as new
    expect(await generated(key)).toBe(1);
  }, 60_000);

  it('ends the wait early when the completion webhook arrives, and ignores its duplicate', async () => {
    const { jobId } = await newJob(60_000);
    const generateRequests = async () => (await sandboxAdmin.stats()).requests['POST /documents/generate'] ?? 0;
    const before = await generateRequests();
    const handle = await start(jobId, { mode: 'heartbeat' });
    const webhook = {
      jobId,
      status: 'completed' as const,
      documentUrl: 'https://docs.example.com/cluster-1.pdf',
      source: 'webhook' as const,
      eventId: 'evt_cluster_1',
    };
    await handle.signal(documentJobFinished, webhook);
    await handle.signal(documentJobFinished, { ...webhook, documentUrl: 'https://docs.example.com/dup.pdf' });
    expect(await handle.result()).toEqual(webhook);
    // Waiting only reads: the job was triggered once, by its step, never again by the wait.
    expect(await generateRequests()).toBe(before);
  }, 60_000);

  it('fails with DeadlineExceeded when the job outlives its deadline', async () => {
    const { jobId } = await newJob(60_000);
    const failure = await (
      await start(jobId, { mode: 'timers', interval: '300 ms', deadline: Date.now() + 2_000 })
    )
      .result()
      .catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    expect((failure as WorkflowFailedError).cause).toBeInstanceOf(ApplicationFailure);
    expect((failure as WorkflowFailedError).cause).toMatchObject({ type: 'DeadlineExceeded' });
  }, 60_000);
});

describe('the email batcher on the cluster', () => {
  type SentEmail = LedgerEntry & { request: { subject: string } };
  const messages: QueuedEmail[] = Array.from({ length: 25 }, (_, i) => ({
    to: `user${i + 1}@example.com`,
    subject: `message ${i + 1}`,
    body: `body ${i + 1}`,
  }));
  afterEach(() => sandboxAdmin.clearFaults());

  it('sends 25 queued messages as 10, 10 (size) and 5 (timer), each once, although a flush was refused and resent', async () => {
    const workflowId = uniqueId('cluster-email-batcher');
    await sandboxAdmin.fault({
      method: 'POST',
      path: '/email/batch',
      fault: 'status',
      params: { code: 503 },
      times: 1,
    });
    const before = await sandboxAdmin.stats();
    const input: EmailBatcherInput = { maxBatchSize: 10, maxWait: '3 seconds' };
    for (const message of messages) {
      await temporal().workflow.signalWithStart('emailBatcher', {
        workflowId,
        taskQueue: WORKFLOWS_TASK_QUEUE,
        args: [input],
        signal: queueEmail,
        signalArgs: [message],
      });
    }
    const handle = temporal().workflow.getHandle(workflowId);
    let state: BatcherState | undefined;
    await waitFor(
      'three flushes',
      async () => {
        state = await handle.query(batcherState);
        return state.flushes >= 3;
      },
      60_000,
      200,
    );
    expect(state?.recent).toEqual([
      { batch: 1, size: 10, reason: 'size', outcome: 'sent' },
      { batch: 2, size: 10, reason: 'size', outcome: 'sent' },
      { batch: 3, size: 5, reason: 'timer', outcome: 'sent' },
    ]);
    await handle.cancel();
    expect(await handle.result()).toMatchObject({ pending: 0, flushes: 3, sent: 25, rejected: 0, refused: 0 });
    const sent = ((await sandboxAdmin.ledger()) as SentEmail[])
      .filter((e) => e.effect === 'email.sent' && e.idempotencyKey?.startsWith(`${workflowId}:`))
      .map((e) => `${e.request.subject}@${e.idempotencyKey!.split(':').pop()}`);
    expect(sent.sort()).toEqual(
      messages.map((m, i) => `${m.subject}@batch-${Math.floor(i / 10) + 1}`).sort(), // each message once
    );
    const after = await sandboxAdmin.stats();
    // Three batches plus the one resend of the refused batch, with the same key.
    expect((after.requests['POST /email/batch'] ?? 0) - (before.requests['POST /email/batch'] ?? 0)).toBe(4);
  }, 90_000);
});

/** The shadow (or canary) reads of CRM v2 in an order: which worker process ran each, and how it ended. */
async function v2Reads(c: Client, orderId: string): Promise<{ identity: string; outcome: string }[]> {
  const history = await c.workflow.getHandle(orderWorkflowId(orderId)).fetchHistory();
  const reads = new Map<string, { identity: string; outcome: string }>();
  for (const e of history.events ?? []) {
    if (e.activityTaskScheduledEventAttributes?.activityType?.name === 'crmv2GetCustomer')
      reads.set(String(e.eventId), { identity: '?', outcome: 'open' });
    const started = e.activityTaskStartedEventAttributes;
    const read = started && reads.get(String(started.scheduledEventId));
    if (read) read.identity = started.identity ?? '?';
    const completed = e.activityTaskCompletedEventAttributes;
    if (completed && reads.has(String(completed.scheduledEventId)))
      reads.get(String(completed.scheduledEventId))!.outcome = 'answered';
    const failed = e.activityTaskFailedEventAttributes;
    if (failed && reads.has(String(failed.scheduledEventId)))
      reads.get(String(failed.scheduledEventId))!.outcome = failed.failure?.applicationFailureInfo?.type ?? 'failed';
  }
  return [...reads.values()];
}

/** What the dark launch recorded for an order (memo `darkLaunch`). */
async function darkLaunchOf(c: Client, orderId: string): Promise<Record<string, unknown> | undefined> {
  const { memo } = await c.workflow.getHandle(orderWorkflowId(orderId)).describe();
  return (memo as { darkLaunch?: Record<string, unknown> } | undefined)?.darkLaunch;
}

describe('the CRM v2 rollout on the cluster', () => {
  it('runs v2 in shadow beside v1 and records the match, then reads through v2 for the canary share', async () => {
    const shadowed = uniqueId('cluster-rollout-shadow');
    const canary = uniqueId('cluster-rollout-canary');
    for (const [orderId, canaryPercent] of [
      [shadowed, 0],
      [canary, 100],
    ] as const) {
      const crmV2 = { darkLaunch: true, canaryPercent };
      await client.startOrder({ orderId, customerId: 'cus_0031', amount: 810, currency: 'EUR', crmV2 });
    }
    for (const orderId of [shadowed, canary]) expect((await client.orderResult(orderId)).stage).toBe('completed');
    expect(await darkLaunchOf(temporal(), shadowed)).toEqual({
      'crm.getCustomer v2': { matches: 1, mismatches: 0, failures: 0 },
    });
    expect((await v2Reads(temporal(), shadowed)).map((r) => r.outcome)).toEqual(['answered']);
    expect(await darkLaunchOf(temporal(), canary)).toBeUndefined(); // v2 is the primary: nothing to shadow
    expect((await v2Reads(temporal(), canary)).map((r) => r.outcome)).toEqual(['answered']);
    for (const orderId of [shadowed, canary]) expect(await orderEffects(orderId)).toEqual(completedOrderEffects);
  }, 90_000);
});

describe('the circuit breaker shared by two worker processes', () => {
  const identity = (w: ServiceProcess) => `${w.child.pid}@${hostname()}`;
  const v2Requests = async () => (await sandboxAdmin.stats()).requests['GET /crm/v2/customers/:id'] ?? 0;
  const probesIn = (state: ControlState) =>
    state.history.filter((h) => h.event.startsWith('half-open: one probe let through')).length;

  const own: ServiceProcess[] = [];
  const orders: string[] = [];

  beforeAll(async () => {
    // Worker A is the first of this file's workers; the other stops, so that A alone sees the failures.
    await workers[1]!.stop();
  }, 60_000);

  afterAll(async () => {
    await sandboxAdmin.clearFaults();
    await Promise.all(own.map((w) => w.stop()));
  }, 60_000);

  const control = () => temporal().workflow.getHandle(controlWorkflowId('crmv2'));

  /** Orders with CRM v2 in shadow, `n` at once, each awaited to its end. */
  async function shadowOrders(n: number): Promise<string[]> {
    const batch = Array.from({ length: n }, () => uniqueId('cluster-breaker'));
    for (const [i, orderId] of batch.entries()) {
      await client.startOrder({
        orderId,
        customerId: `cus_00${11 + i}`,
        amount: 7100 + i,
        currency: 'EUR',
        crmV2: { darkLaunch: true, canaryPercent: 0 },
      });
    }
    for (const orderId of batch) expect((await client.orderResult(orderId)).stage).toBe('completed');
    orders.push(...batch);
    return batch;
  }

  it('opened by the failures one worker process saw, refuses the other worker process’s calls too; one switch closes it for both', async () => {
    const a = workers[0]!;

    // 1. Only worker A runs: CRM v2 answers 500, every shadow read fails (twice: one retry) until the
    //    shared breaker (10 consecutive failures) opens. The orders complete: v2 in shadow cannot fail them.
    await sandboxAdmin.fault({ method: 'GET', path: '/crm/v2/customers', fault: 'status', params: { code: 500 } });
    const opening: string[] = [];
    let state: ControlState | undefined;
    await waitFor(
      'the crmv2 breaker to open',
      async () => {
        opening.push(...(await shadowOrders(3)));
        state = await control().query(controlState);
        return state.breaker.state === 'open';
      },
      120_000,
      0,
    );
    expect(state?.breaker).toMatchObject({ state: 'open', lastFailureType: 'ServerError' });
    expect(state?.breaker.forced).toBeUndefined(); // opened by the failures, not by an operator
    const openingReads = (await Promise.all(opening.map((o) => v2Reads(temporal(), o)))).flat();
    expect(new Set(openingReads.map((r) => r.identity))).toEqual(new Set([identity(a)]));
    // Each read failed with the provider's 500 (its retry, once the breaker was open, may have been refused).
    expect(new Set(openingReads.map((r) => r.outcome))).toContain('ServerError');
    expect(openingReads.filter((r) => !['ServerError', 'CircuitOpen'].includes(r.outcome))).toEqual([]);

    // 2. Worker B starts: it never saw a failure; all it knows of CRM v2 is the state in Temporal. Its shadow
    //    reads are refused before sending (CircuitOpen), like A's: nothing reaches the provider while it is
    //    open (but for a half-open probe, should the cooldown end meanwhile: counted, not guessed).
    const b = clusterWorker(cluster, 'breaker-worker-b');
    own.push(b);
    await b.ready;
    const requestsBefore = await v2Requests();
    const probesBefore = probesIn(await control().query(controlState));
    const refused: { identity: string; outcome: string }[] = [];
    await waitFor(
      'a shadow read on worker B to be refused by the open breaker',
      async () => {
        for (const orderId of await shadowOrders(4)) {
          refused.push(...(await v2Reads(temporal(), orderId)));
          expect(await darkLaunchOf(temporal(), orderId)).toMatchObject({
            'crm.getCustomer v2': { matches: 0, failures: 1 },
          });
        }
        return refused.some((r) => r.identity === identity(b) && r.outcome === 'CircuitOpen');
      },
      120_000,
      0,
    );
    const probes = probesIn(await control().query(controlState)) - probesBefore;
    expect((await v2Requests()) - requestsBefore).toBe(probes);
    expect(refused.filter((r) => r.outcome !== 'CircuitOpen').length).toBe(probes);
    console.log(
      `shared breaker on the cluster: opened by worker A after ${opening.length} orders; then ${refused.length} shadow reads refused (${refused.filter((r) => r.identity === identity(b)).length} on worker B), ${probes} probe(s)`,
    );

    // 3. The provider is back; an operator sets the breaker back to automatic (closed): both processes call
    //    v2 again and its answers match v1's.
    await sandboxAdmin.clearFaults();
    await control().executeUpdate(forceBreaker, { args: [{ mode: 'auto', reason: 'provider fixed' }] });
    const answeredBy = new Set<string>();
    await waitFor(
      'both worker processes to read CRM v2 again',
      async () => {
        for (const orderId of await shadowOrders(4))
          for (const r of await v2Reads(temporal(), orderId)) if (r.outcome === 'answered') answeredBy.add(r.identity);
        return answeredBy.has(identity(a)) && answeredBy.has(identity(b));
      },
      120_000,
      0,
    );

    // Nothing lost, nothing duplicated, nothing stranded: every order completed (awaited above), each
    // effect once at the provider.
    for (const orderId of orders)
      expect([orderId, await orderEffects(orderId)]).toEqual([orderId, completedOrderEffects]);
    for (const w of [a, b]) expect(w.child.exitCode).toBeNull();
  }, 420_000);
});

import { WORKFLOWS_TASK_QUEUE } from '../../src/contracts/task-queues';
import { orderWorkflowId, resolveParked } from '../../src/contracts/messages';
import type { IntegrationsClient } from '../../src/client';
import { clusterServices, type ClusterService } from '../../src/cluster/cluster';
import type { ServiceProcess } from '../../src/devserver/service-process';
import { connectClient } from '../../src/temporal/connection';
import { checkNamespace, NamespaceCheckError } from '../../src/temporal/namespace-checks';
import { sandboxAdmin } from '../support/sandbox';
import { uniqueId } from '../support/temporal';
import { waitFor } from '../support/wait';
import {
  clusterWorker,
  completedOrderEffects,
  orderEffects,
  startClusterWithWorkers,
  whileUnavailable,
  type ClusterWithWorkers,
  type TestCluster,
} from './cluster-support';

/**
 * The project on a real Temporal cluster: four server processes (frontend, history, matching, worker) on
 * PostgreSQL with SQL visibility, started by src/cluster for this file (own databases, own namespace), and two
 * worker processes as production runs them (src/workers/main.ts).
 */

let stack: ClusterWithWorkers;
let cluster: TestCluster;
let workers: ServiceProcess[] = [];
let client: IntegrationsClient;

beforeAll(async () => {
  stack = await startClusterWithWorkers('cluster');
  ({ cluster, workers, client } = stack);
}, 600_000);

afterAll(() => stack?.dispose(), 60_000);

/** Waits until the order's workflow is closed, riding out a server that is down or restarting. */
async function closedStatus(orderId: string, timeoutMs: number): Promise<string> {
  const handle = client.temporal.workflow.getHandle(orderWorkflowId(orderId));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await whileUnavailable(async () => (await handle.describe()).status.name, timeoutMs);
    if (status !== 'RUNNING') return status;
    if (Date.now() > deadline) return 'STRANDED (still running)';
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** The event types of an order's history with their activity or timer, to see where a stranded order stopped. */
async function historySummary(orderId: string): Promise<string> {
  const history = await client.temporal.workflow.getHandle(orderWorkflowId(orderId)).fetchHistory();
  return (history.events ?? [])
    .map((e) => {
      const type = String(e.eventType).replace('EVENT_TYPE_', '');
      const activity = e.activityTaskScheduledEventAttributes?.activityType?.name;
      const failure =
        e.activityTaskFailedEventAttributes?.failure?.message ??
        e.activityTaskTimedOutEventAttributes?.failure?.message;
      return `  ${String(e.eventId)} ${String(e.eventTime?.seconds ?? '')} ${type}${activity ? ` ${activity}` : ''}${failure ? `: ${failure}` : ''}`;
    })
    .join('\n');
}

describe('the cluster', () => {
  it('registered the namespace with a 14-day retention and the search attributes: the start-up check passes', async () => {
    const connection = await connectClient(cluster.adminSettings);
    try {
      await expect(
        checkNamespace(connection, { namespace: cluster.namespace, minRetentionMs: 14 * 86_400_000 }),
      ).resolves.toBeUndefined();
    } finally {
      await connection.close();
    }
    expect(Object.keys(cluster.services)).toEqual([...clusterServices]);
    expect(new Set(Object.values(cluster.services).map((s) => s.pid)).size).toBe(4); // four processes
    for (const s of clusterServices) expect(cluster.services[s].rssBytes()).toBeGreaterThan(0);
  });

  it('runs fulfillOrder to completion with two worker processes polling, each effect once', async () => {
    const orders = Array.from({ length: 4 }, () => uniqueId('cluster-order'));
    for (const [i, orderId] of orders.entries()) {
      const { charge } = await client.startOrder({
        orderId,
        customerId: `cus_00${11 + i}`,
        amount: 4100 + i,
        currency: 'EUR',
      });
      expect(charge.charged).toBe(true);
    }
    for (const orderId of orders) expect((await client.orderResult(orderId)).stage).toBe('completed');
    for (const orderId of orders) expect(await orderEffects(orderId)).toEqual(completedOrderEffects);
    const { pollers } = await client.temporal.workflowService.describeTaskQueue({
      namespace: cluster.namespace,
      taskQueue: { name: WORKFLOWS_TASK_QUEUE },
      taskQueueType: 1, // WORKFLOW
    });
    const identities = new Set((pollers ?? []).map((p) => p.identity));
    expect(identities.size).toBeGreaterThanOrEqual(2);
  }, 120_000);

  it('finds a parked order through SQL visibility (NeedsAttention = true AND IntegrationName = email)', async () => {
    const orderId = uniqueId('cluster-parked');
    const workflowId = orderWorkflowId(orderId);
    await sandboxAdmin.fault({ method: 'POST', path: '/email/send', fault: 'status', params: { code: 401 } });
    try {
      await client.startOrder({ orderId, customerId: 'cus_0011', amount: 5100, currency: 'EUR' });
      const query = `NeedsAttention = true AND IntegrationName = 'email' AND WorkflowId = '${workflowId}'`;
      const found: string[] = [];
      await waitFor(
        'the parked order to be listed by SQL visibility',
        async () => {
          found.length = 0;
          for await (const wf of client.temporal.workflow.list({ query })) found.push(wf.workflowId);
          return found.length > 0;
        },
        60_000,
        500,
      );
      expect(found).toEqual([workflowId]);
      const { count } = await client.temporal.workflow.count(`NeedsAttention = true AND WorkflowId = '${workflowId}'`);
      expect(count).toBe(1);
    } finally {
      await sandboxAdmin.clearFaults();
    }
    // The operator fixed the credentials and retries: the order completes and leaves the list.
    await client.temporal.workflow.getHandle(workflowId).executeUpdate(resolveParked, { args: [{ action: 'retry' }] });
    expect((await client.orderResult(orderId)).stage).toBe('completed');
    await waitFor(
      'the resolved order to leave the NeedsAttention list',
      async () =>
        (await client.temporal.workflow.count(`NeedsAttention = true AND WorkflowId = '${workflowId}'`)).count === 0,
      30_000,
      500,
    );
  }, 120_000);
});

describe('start-up checks against the cluster', () => {
  it('a worker started on a namespace that does not exist stops, naming the command that creates it', async () => {
    const worker = clusterWorker(cluster, 'cluster-worker-no-namespace', { TEMPORAL_NAMESPACE: 'no-such-namespace' });
    const error = await worker.ready.then(
      () => new Error('the worker started'),
      (err: Error) => err,
    );
    await worker.stop();
    expect(error.message).toContain('Temporal namespace no-such-namespace is not ready for this project');
    expect(error.message).toContain(
      `temporal operator namespace create --namespace no-such-namespace --retention 1d --address ${cluster.address}`,
    );
    expect(error.message).toContain(
      'temporal operator search-attribute create --namespace no-such-namespace --name NeedsAttention --type Bool',
    );
  }, 60_000);

  it('a namespace without the search attributes, or with a short retention, is refused with the commands that fix it', async () => {
    const connection = await connectClient(cluster.adminSettings);
    const namespace = `bare-${Date.now().toString(36)}`;
    try {
      await connection.workflowService.registerNamespace({
        namespace,
        workflowExecutionRetentionPeriod: { seconds: 86_400 } as never,
      });
      const error = await whileUnavailable(
        () =>
          checkNamespace(connection, {
            namespace,
            minRetentionMs: 3 * 86_400_000,
            cliFlags: `--address ${cluster.address}`,
          }).then(
            () => new Error('the check passed'),
            (err: Error) => {
              if (!(err instanceof NamespaceCheckError)) throw err; // the new namespace not visible yet: retried
              return err;
            },
          ),
        20_000,
      );
      expect(error).toBeInstanceOf(NamespaceCheckError);
      const problems = (error as NamespaceCheckError).problems;
      expect(problems.map((p) => p.what)).toEqual([
        'its retention is 1 day(s), shorter than TEMPORAL_MIN_RETENTION (3 day(s)): a webhook redelivered after the retention would run again',
        'the custom search attribute NeedsAttention (BOOL) does not exist',
        'the custom search attribute IntegrationName (KEYWORD) does not exist',
        'the custom search attribute WorkflowStage (KEYWORD) does not exist',
        'the custom search attribute ParkedAt (DATETIME) does not exist',
      ]);
      expect(problems[0]!.fix).toBe(
        `temporal operator namespace update --namespace ${namespace} --retention 3d --address ${cluster.address}`,
      );
      expect(problems[1]!.fix).toBe(
        `temporal operator search-attribute create --namespace ${namespace} --name NeedsAttention --type Bool --address ${cluster.address}`,
      );
      // A search attribute of the wrong type is named with the command that replaces it.
      await connection.operatorService.addSearchAttributes({
        namespace,
        searchAttributes: { WorkflowStage: 3 /* INT */ },
      });
      await waitFor(
        'the wrong-typed attribute to be reported',
        async () => {
          try {
            await checkNamespace(connection, { namespace, minRetentionMs: 86_400_000 });
            return false;
          } catch (err) {
            return (err as NamespaceCheckError).problems?.some((p) => p.what.includes('WorkflowStage is INT')) ?? false;
          }
        },
        20_000,
        250,
      );
    } finally {
      await connection.close();
    }
  }, 60_000);
});

describe('server faults, with the workers kept running', () => {
  beforeAll(() => sandboxAdmin.config({ jobMs: 3_000 })); // orders stay in flight through the fault
  afterAll(() => sandboxAdmin.config({ jobMs: 1_500 }));

  /** Starts orders, breaks the server while they run, brings it back, and counts what became of them. */
  async function throughFault(name: string, kill: ClusterService[], downMs: number, killAt: 'charged' | 'invoicing') {
    const orders = Array.from({ length: 3 }, () => uniqueId(`fault-${name}`));
    for (const [i, orderId] of orders.entries()) {
      await client.startOrder({ orderId, customerId: `cus_00${11 + i}`, amount: 6100 + i, currency: 'EUR' });
    }
    if (killAt === 'invoicing') {
      for (const orderId of orders)
        await waitFor(
          'the order to reach the invoice',
          async () => (await client.orderStatus(orderId)).stage === 'invoicing',
          30_000,
          100,
        );
    }
    await Promise.all(kill.map((s) => cluster.kill(s, 'SIGKILL')));
    await new Promise((r) => setTimeout(r, downMs));
    for (const s of kill) cluster.services[s].start();
    await cluster.waitReady(120_000);
    const outcome = { orders: orders.length, completed: 0, lost: 0, duplicated: 0, stranded: 0, other: [] as string[] };
    for (const orderId of orders) {
      let status: string;
      try {
        status = await closedStatus(orderId, 180_000);
      } catch (err) {
        if (/not found/i.test(String(err))) {
          outcome.lost++;
          continue;
        }
        throw err;
      }
      if (status.startsWith('STRANDED')) outcome.stranded++;
      else {
        const result = status === 'COMPLETED' ? await client.orderResult(orderId) : undefined;
        if (result?.stage === 'completed') outcome.completed++;
        else outcome.other.push(`${orderId}: ${status} ${result?.stage ?? ''} ${result?.failure ?? ''}`.trim());
      }
      const effects = await orderEffects(orderId);
      const expected = completedOrderEffects as Record<string, number>;
      // The same effect twice (a compensation's refund is another effect, not a duplicate).
      if (Object.entries(effects).some(([effect, n]) => n > Math.max(1, expected[effect] ?? 1))) outcome.duplicated++;
      if (Object.keys({ ...effects, ...expected }).some((effect) => effects[effect] !== expected[effect]))
        outcome.other.push(`${orderId} effects: ${JSON.stringify(effects)}`);
      if (status.startsWith('STRANDED')) console.log(`stranded ${orderId}:\n${await historySummary(orderId)}`);
    }
    console.log(
      `server fault "${name}" (kill -9 ${kill.join(', ')}, down ${downMs / 1000} s): ${JSON.stringify(outcome)}`,
    );
    expect(outcome).toEqual({
      orders: orders.length,
      completed: orders.length,
      lost: 0,
      duplicated: 0,
      stranded: 0,
      other: [],
    });
    for (const w of workers) expect(w.child.exitCode).toBeNull(); // the workers rode it out
  }

  // Right after the charge: the orders' next steps (the customer read, the CRM note) are in flight.
  it('kill -9 of the history service', () => throughFault('history', ['history'], 2_000, 'charged'), 300_000);
  it('kill -9 of the frontend', () => throughFault('frontend', ['frontend'], 2_000, 'charged'), 300_000);
  // Mid-invoice (every step from there on has a background budget). Ten seconds down right after the charge
  // outlasts the fresh customer read's 10-second user-flow budget: the read times out (SCHEDULE_TO_START,
  // it never started) and the order is compensated, books balanced, instead of completed.
  it(
    'kill -9 of all four services for 10 s',
    () => throughFault('all', [...clusterServices], 10_000, 'invoicing'),
    300_000,
  );
});

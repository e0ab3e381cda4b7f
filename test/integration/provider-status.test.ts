import { Client, type Connection, type WorkflowHandle } from '@temporalio/client';
import type { ApplicationFailure } from '@temporalio/common';
import { ControlPlane, controlConfigOf } from '../../src/control/control-plane';
import { controlState, controlWorkflowId } from '../../src/control/messages';
import { parkedState, resolveParked } from '../../src/contracts/messages';
import {
  providerStatusChanged,
  providerStatusWorkflowId,
  type ProviderStatus,
} from '../../src/contracts/provider-status';
import { WORKFLOWS_TASK_QUEUE } from '../../src/contracts/task-queues';
import { defineIntegration } from '../../src/integrations/kit/define';
import { payments } from '../../src/integrations/payments/payments.integration';
import { IntegrationEngine } from '../../src/integrations/runtime/engine';
import { WorkerMetrics } from '../../src/observability/metrics';
import { connectClient } from '../../src/temporal/connection';
import type { watchProviderStatus } from '../../src/workflows/watch-provider-status.workflow';
import { captureLogs } from '../support/log-capture';
import { sandboxAdmin } from '../support/sandbox';
import { testEnv, uniqueId, withWorkers } from '../support/temporal';
import { waitFor } from '../support/wait';
import type { chargeStep } from './pattern-test.workflows';

const taskQueue = 'pattern-tests-provider-status';
const testWorkflows = { path: require.resolve('./pattern-test.workflows'), taskQueue };
const failureOf = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (err: unknown) => err as ApplicationFailure,
  );

describe("providers' status pages", () => {
  let connection: Connection;
  let client: Client;
  beforeAll(async () => {
    connection = await connectClient({ address: testEnv.temporalAddress, namespace: 'default' });
    client = new Client({ connection });
  });
  afterAll(async () => {
    await sandboxAdmin.clearIncidents();
    await connection.close();
  });
  afterEach(() => sandboxAdmin.clearFaults());

  it('an incident reaches the control workflow and the parked workflows within one poll, and its end too', async () => {
    await withWorkers(
      async () => {
        // A charge parked on 503s, before the provider says anything.
        await sandboxAdmin.fault({
          method: 'POST',
          path: '/payments/payments',
          fault: 'status',
          params: { code: 503 },
        });
        const parked = await client.workflow.start<typeof chargeStep>('chargeStep', {
          taskQueue,
          workflowId: uniqueId('parked-incident'),
          args: [{ orderId: uniqueId('order'), amount: 990, lookup: true }],
        });
        await waitFor('the charge to park', async () => (await parked.query(parkedState)) !== null, 30_000);
        await waitFor(
          'visibility to list it as parked',
          async () => {
            for await (const w of client.workflow.list({
              query: `WorkflowStage = 'parked' AND IntegrationName = 'payments' AND WorkflowId = '${parked.workflowId}'`,
            }))
              if (w.workflowId === parked.workflowId) return true;
            return false;
          },
          30_000,
          200,
        );
        await sandboxAdmin.clearFaults();

        const watcher = await client.workflow.start<typeof watchProviderStatus>('watchProviderStatus', {
          taskQueue: WORKFLOWS_TASK_QUEUE,
          workflowId: providerStatusWorkflowId('payments'),
          args: [{ integration: 'payments', pollEvery: '1 second' }],
          workflowIdConflictPolicy: 'TERMINATE_EXISTING',
        });
        const control = client.workflow.getHandle(controlWorkflowId('payments'));
        const providerOf = async () => {
          try {
            return (await control.query(controlState)).provider;
          } catch {
            return undefined; // not started yet: the watcher's first publish starts it
          }
        };
        try {
          await waitFor(
            'the first read to reach the control workflow',
            async () => (await providerOf()) !== undefined,
            30_000,
            200,
          );
          expect((await providerOf())!.incidents).toEqual([]);

          const { id } = await sandboxAdmin.declareIncident('payments', {
            name: 'Elevated API errors',
            impact: 'minor',
          });
          const declared = Date.now();
          await waitFor(
            'the parked workflow to say the provider reports an incident',
            async () =>
              /^provider reports an incident since \S+: Elevated API errors \(minor, investigating\)/.test(
                (await parked.query(parkedState))?.providerStatus ?? '',
              ),
            30_000,
            100,
          );
          console.log(
            `incident shown in the parked workflow's details ${Date.now() - declared} ms after it was declared (poll every 1 s)`,
          );
          const incidents = (await providerOf())!.incidents;
          expect(incidents).toEqual([
            expect.objectContaining({ id, name: 'Elevated API errors', impact: 'minor', status: 'investigating' }),
          ]);
          expect(incidents[0]!.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/status\/payments\/incidents\//);
          // The UI's details panel of the parked workflow shows it too.
          const metadata = await parked.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
          expect(metadata.currentDetails).toContain('Status page: provider reports an incident since');
          const controlDetails = await control.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
          expect(controlDetails.currentDetails).toContain('Provider status page: provider reports an incident since');

          // The page itself fails: what it said last stays, with the read error noted.
          await sandboxAdmin.fault({ path: '/status/payments', fault: 'status', params: { code: 502 } });
          await waitFor('the read error to be noted', async () => !!(await providerOf())?.readError, 60_000, 200);
          expect((await providerOf())!.incidents.map((i) => i.id)).toEqual([id]);
          await sandboxAdmin.clearFaults();
          await waitFor('the page to be read again', async () => !(await providerOf())?.readError, 60_000, 200);

          await sandboxAdmin.updateIncident('payments', id, { status: 'resolved' });
          await waitFor(
            'the parked workflow to learn the incident is over',
            async () =>
              /^provider reports no open incident/.test((await parked.query(parkedState))?.providerStatus ?? ''),
            30_000,
            100,
          );
          expect((await providerOf())!.incidents).toEqual([]);
          const history = (await control.query(controlState)).history.map((h) => h.event);
          expect(history).toEqual(
            expect.arrayContaining([
              expect.stringMatching(/^provider reports an incident since .*Elevated API errors/),
              'provider reports no open incident',
            ]),
          );
        } finally {
          await sandboxAdmin.clearIncidents();
          await waitFor(
            'the control state to show no incident',
            async () => ((await providerOf())?.incidents ?? []).length === 0,
            30_000,
            200,
          );
          await watcher.terminate('test over');
          await parked.executeUpdate(resolveParked, { args: [{ action: 'fail', reason: 'test cleanup' }] });
        }
      },
      { testWorkflows },
    );
  }, 240_000); // a cap for a loaded machine, not a bound: the test waits for conditions

  it('holds back user-flow calls during a major incident where declared, and says so in every failure', async () => {
    // An integration of its own, so its control workflow is this test's alone; the incident is signalled
    // as the watcher would.
    const integration = defineIntegration({
      ...payments,
      name: uniqueId('paystatus').replace(/[^a-z0-9]/g, ''),
      statusPage: { ...payments.statusPage!, preOpenBreaker: true },
    });
    const metrics = new WorkerMetrics({ integrations: [integration], processMetrics: false });
    const control = new ControlPlane({ client, logger: captureLogs().logger, metrics: metrics.calls });
    const runtime = new IntegrationEngine({ logger: captureLogs().logger, control });
    const tell = (status: ProviderStatus) =>
      client.workflow.signalWithStart('integrationControl', {
        taskQueue: WORKFLOWS_TASK_QUEUE,
        workflowId: controlWorkflowId(integration.name),
        args: [controlConfigOf(integration)],
        signal: providerStatusChanged,
        signalArgs: [status],
      });
    const incident = {
      id: 'inc-major',
      name: 'Payments API unavailable',
      status: 'identified',
      impact: 'major' as const,
      startedAt: '2026-12-01T10:00:00.000Z',
    };
    const charge = () =>
      runtime.call(
        integration,
        'createPayment',
        { key: uniqueId('k'), body: { orderId: uniqueId('o'), amount: 100, currency: 'EUR' } },
        { attempt: 1 },
      );
    const paymentsMade = async () => (await sandboxAdmin.stats()).requests['POST /payments/payments'] ?? 0;
    let handle: WorkflowHandle | undefined;
    try {
      await withWorkers(
        async () => {
          await tell({
            indicator: 'major',
            description: 'Partial System Outage',
            incidents: [incident],
            checkedAt: new Date().toISOString(),
          });
          handle = client.workflow.getHandle(controlWorkflowId(integration.name));
          const before = await paymentsMade();
          await waitFor(
            'the user-flow charge to be held back',
            async () => (await failureOf(charge()))?.type === 'CircuitOpen',
            10_000,
            100,
          );
          const refused = await failureOf(charge());
          expect(refused).toMatchObject({ type: 'CircuitOpen', nonRetryable: true });
          expect(refused!.message).toContain(
            'provider reports an incident since 2026-12-01T10:00:00.000Z: Payments API unavailable (major, identified)',
          );
          expect(refused!.message).toContain('statusPage.preOpenBreaker');
          expect(await paymentsMade()).toBe(before); // nothing was sent

          // A background read goes on (the breaker judges by real answers), and its failures carry the note.
          expect(
            await runtime.call(
              integration,
              'findPayment',
              { query: { correlationId: uniqueId('none') } },
              { attempt: 1 },
            ),
          ).toBeNull();
          await sandboxAdmin.fault({
            method: 'GET',
            path: '/payments/payments',
            fault: 'status',
            params: { code: 503 },
          });
          const failed = await failureOf(
            runtime.call(integration, 'findPayment', { query: { correlationId: 'x' } }, { attempt: 1 }),
          );
          expect(failed).toMatchObject({ type: 'ServerError' });
          expect(failed!.message).toContain('(provider reports an incident since 2026-12-01T10:00:00.000Z');
          await sandboxAdmin.clearFaults();
          const scrape = await metrics.registry.metrics();
          expect(scrape).toContain(
            `integration_provider_incidents{integration="${integration.name}",impact="major"} 1`,
          );
          expect(scrape).toContain(
            `integration_provider_incidents{integration="${integration.name}",impact="minor"} 0`,
          );

          // A minor incident does not hold anything back.
          await tell({
            indicator: 'minor',
            description: 'Minor Service Outage',
            incidents: [{ ...incident, impact: 'minor' }],
            checkedAt: new Date().toISOString(),
          });
          await waitFor(
            'the charge to go through again',
            async () => (await failureOf(charge())) === undefined,
            10_000,
            100,
          );
          expect(await paymentsMade()).toBeGreaterThan(before);
        },
        { integrations: [], workflows: true },
      );
    } finally {
      await control.close();
      await runtime.close();
      await handle?.terminate('test over');
    }
  });
});

import { Client, type Connection } from '@temporalio/client';
import type { ApplicationFailure } from '@temporalio/common';
import { defineIntegration } from '../../src/integrations/kit/define';
import { payments } from '../../src/integrations/payments/payments.integration';
import { ControlPlane } from '../../src/control/control-plane';
import { IntegrationEngine } from '../../src/integrations/runtime/engine';
import { controlState, controlWorkflowId, forceBreaker, setKillSwitch } from '../../src/control/messages';
import { captureLogs } from '../support/log-capture';
import { sandboxAdmin } from '../support/sandbox';
import { testEnv, uniqueId, withWorkers } from '../support/temporal';
import { waitFor } from '../support/wait';
import type { backgroundLookup } from './pattern-test.workflows';
import { connectClient } from '../../src/temporal/connection';

/**
 * Two independent worker-side stacks (runtime + control plane, no shared memory) stand for two worker
 * processes: all they share is the Temporal server, which holds the breaker.
 */
/**
 * The breaker's cooldown in these tests: long enough that the other worker learns of the open breaker and
 * the held-back calls run before it ends, even on a loaded 2-core machine (2 s did not always suffice).
 */
const COOLDOWN_MS = 8_000;

function workerStack(client: Client, integrationName: string) {
  const integration = defineIntegration({
    ...payments,
    name: integrationName,
    breaker: { failures: 3, cooldown: COOLDOWN_MS },
  });
  const control = new ControlPlane({ client, logger: captureLogs().logger });
  const runtime = new IntegrationEngine({ logger: captureLogs().logger, control });
  const hello = () => runtime.call(integration, 'hello', {}, { attempt: 1 });
  return { integration, control, runtime, hello };
}

const failureOf = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (err: unknown) => err as ApplicationFailure,
  );
const helloRequests = async () => (await sandboxAdmin.stats()).requests['GET /payments/hello'] ?? 0;

describe('integration controls shared through Temporal', () => {
  let connection: Connection;
  let client: Client;
  beforeAll(async () => {
    connection = await connectClient({ address: testEnv.temporalAddress, namespace: 'default' });
    client = new Client({ connection });
  });
  afterAll(() => connection.close());
  afterEach(() => sandboxAdmin.clearFaults());

  it('opens the breaker on one worker and stops calls from the other within seconds; one probe closes it', async () => {
    const name = `breaker${Date.now().toString(36)}`;
    await withWorkers(
      async () => {
        const a = workerStack(client, name);
        const b = workerStack(client, name);
        await b.hello(); // b has read the (closed) state once and caches it
        await sandboxAdmin.fault({
          method: 'GET',
          path: '/payments/hello',
          fault: 'status',
          params: { code: 503 },
          times: 3,
        });
        for (let i = 0; i < 3; i++) expect(await failureOf(a.hello())).toMatchObject({ type: 'ServerError' });
        await a.control.flush();
        const openedAt = Date.now();

        // Worker b learns it from Temporal, not from a: its next calls are held back.
        await waitFor(
          'worker b to see the open breaker',
          async () => (await failureOf(b.hello()))?.type === 'CircuitOpen',
          60_000,
          50,
        );
        const propagationMs = Date.now() - openedAt;
        // A figure, not a bound: a wall-clock limit would flake on a shared machine.
        console.log(`breaker propagation to the other worker: ${propagationMs} ms`);

        // While open, no request leaves either worker; user-flow calls fail fast, non-retryable.
        const before = await helloRequests();
        const held = await Promise.all([a.hello(), b.hello(), a.hello(), b.hello()].map(failureOf));
        expect(held.map((f) => [f?.type, f?.nonRetryable])).toEqual(
          Array.from({ length: 4 }, () => ['CircuitOpen', true]),
        );
        expect(await helloRequests()).toBe(before);

        // After the cooldown, many callers on both workers race: exactly one probe reaches the provider.
        const { openUntil } = (await client.workflow.getHandle(controlWorkflowId(name)).query(controlState)).breaker;
        await new Promise((r) => setTimeout(r, Math.max(0, openUntil! + 100 - Date.now())));
        const raced = await Promise.all(
          [a.hello(), b.hello(), a.hello(), b.hello(), a.hello(), b.hello()].map(failureOf),
        );
        expect(raced.filter((f) => f === undefined)).toHaveLength(1);
        expect(await helloRequests()).toBe(before + 1);
        await Promise.all([a.control.flush(), b.control.flush()]);

        // The probe succeeded: closed again, for everyone.
        await waitFor('the breaker to close', async () => (await failureOf(b.hello())) === undefined, 30_000, 50);
        const state = await client.workflow.getHandle(controlWorkflowId(name)).query(controlState);
        expect(state.breaker.state).toBe('closed');
        expect(state.history.map((h) => h.event.split(':')[0])).toEqual(['opened', 'half-open', 'closed']);
        await Promise.all([a.runtime.close(), b.runtime.close(), a.control.close(), b.control.close()]);
      },
      { integrations: [] },
    );
  });

  it('lets an operator force the breaker open and closed, with a reason kept in its history', async () => {
    const name = `forced${Date.now().toString(36)}`;
    await withWorkers(
      async () => {
        const w = workerStack(client, name);
        await w.hello();
        await w.control.flush();
        const handle = client.workflow.getHandle(controlWorkflowId(name));
        await handle.executeUpdate(forceBreaker, { args: [{ mode: 'open', reason: 'provider incident INC-42' }] });
        await waitFor(
          'the forced breaker',
          async () => (await failureOf(w.hello()))?.type === 'CircuitOpen',
          5_000,
          50,
        );
        await expect(handle.executeUpdate(forceBreaker, { args: [{ mode: 'open', reason: '' }] })).rejects.toThrow();
        await handle.executeUpdate(forceBreaker, { args: [{ mode: 'auto', reason: 'incident over' }] });
        await waitFor('the breaker to close', async () => (await failureOf(w.hello())) === undefined, 30_000, 50);
        const state = await handle.query(controlState);
        expect(state.history.map((h) => h.event)).toEqual([
          'opened: forced open by an operator: provider incident INC-42',
          'closed: set back to automatic by an operator: incident over',
        ]);
        await Promise.all([w.runtime.close(), w.control.close()]);
      },
      { integrations: [] },
    );
  });

  it('pauses background work while the kill switch is on and resumes it when lifted, losing nothing', async () => {
    const control = new ControlPlane({ client, logger: captureLogs().logger });
    const runtime = new IntegrationEngine({ logger: captureLogs().logger, control });
    const handle = client.workflow.getHandle(controlWorkflowId('payments'));
    const killSwitch = (on: boolean, reason: string) =>
      handle.executeUpdate(setKillSwitch, { args: [{ endpoint: 'findPayment', on, reason }] });
    await withWorkers(
      async () => {
        try {
          await runtime.call(payments, 'hello', {}, { attempt: 1 });
          await control.flush(); // the payments control workflow now exists
          const flipped = Date.now();
          await killSwitch(true, 'provider asked us to stop');
          await waitFor(
            'the kill switch',
            async () =>
              (
                await failureOf(
                  runtime.call(payments, 'findPayment', { query: { correlationId: 'x' } }, { attempt: 1 }),
                )
              )?.type === 'KillSwitch',
            5_000,
            50,
          );
          console.log(`kill switch took effect at the worker after ${Date.now() - flipped} ms`);
          const work = await client.workflow.start<typeof backgroundLookup>('backgroundLookup', {
            taskQueue: 'pattern-tests-controls',
            workflowId: uniqueId('paused'),
            args: ['nothing-with-this-key'],
          });
          // The background call is held back, retried later, not failed.
          await waitFor(
            'the background call to be held back',
            async () => {
              const pending = (await work.describe()).raw.pendingActivities ?? [];
              return pending.some((a) => a.lastFailure?.applicationFailureInfo?.type === 'KillSwitch');
            },
            10_000,
          );
          await killSwitch(false, 'provider is back');
          expect(await work.result()).toBeNull(); // it ran once the switch was lifted
        } finally {
          await killSwitch(false, 'test cleanup');
          await control.close();
        }
      },
      {
        runtime,
        testWorkflows: { path: require.resolve('./pattern-test.workflows'), taskQueue: 'pattern-tests-controls' },
      },
    );
    await runtime.close();
  });
});

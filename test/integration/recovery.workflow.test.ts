import type { Client } from '@temporalio/client';
import type { chargeStep, ChargeStepInput } from './pattern-test.workflows';
import { sandboxAdmin } from '../support/sandbox';
import { uniqueId, withWorkers } from '../support/temporal';

const taskQueue = 'pattern-tests-recovery';
const testWorkflows = { path: require.resolve('./pattern-test.workflows'), taskQueue };

async function charge(client: Client, input: Partial<ChargeStepInput> = {}) {
  const workflowId = uniqueId('recover');
  const handle = await client.workflow.start<typeof chargeStep>('chargeStep', {
    taskQueue,
    workflowId,
    args: [{ orderId: workflowId, amount: 2500, lookup: true, lookupInterval: '500 ms', ...input }],
  });
  const result = await handle.result();
  const history = await handle.fetchHistory();
  const activities = (history.events ?? []).flatMap(
    (e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? [],
  );
  const effects = (await sandboxAdmin.ledger()).filter((e) => e.idempotencyKey === `${workflowId}:charge`);
  return { result, activities, effects };
}

describe('unknown-outcome recovery on the real dev server', () => {
  afterEach(() => sandboxAdmin.clearFaults());

  it('recovers by key: a write whose answer never came is resent with the same key, and applies once', async () => {
    await sandboxAdmin.fault({ method: 'POST', path: '/payments/payments', fault: 'commit-then-hang', times: 1 });
    const { result, activities, effects } = await withWorkers(({ client }) => charge(client), { testWorkflows });
    expect(result.paths).toEqual(['ok']); // Temporal's retry resent it inside the budget
    expect(activities).toEqual(['paymentsCreatePayment']);
    expect(effects).toHaveLength(1);
    expect(result.value.id).toBe(effects[0]?.resourceId);
  });

  it('recovers by lookup when the write was applied: the lookup finds it and nothing is resent', async () => {
    // Every attempt is applied (idempotently) and answered 504: the budget ends with OutcomeUnknown.
    await sandboxAdmin.fault({
      method: 'POST',
      path: '/payments/payments',
      fault: 'commit-then-504',
      params: { ms: 10 },
      times: 2,
    });
    const { result, activities, effects } = await withWorkers(({ client }) => charge(client), { testWorkflows });
    expect(result.paths).toEqual(['found-by-lookup']);
    expect(activities).toEqual(['paymentsCreatePayment', 'paymentsFindPayment']);
    expect(effects).toHaveLength(1);
    expect(result.value.id).toBe(effects[0]?.resourceId);
  });

  it('recovers by lookup when the write was not applied: nothing found, resent with the same key', async () => {
    await sandboxAdmin.fault({
      method: 'POST',
      path: '/payments/payments',
      fault: 'status',
      params: { code: 504 },
      times: 2,
    });
    const { result, activities, effects } = await withWorkers(({ client }) => charge(client), { testWorkflows });
    expect(result.paths).toEqual(['resent-after-lookup']);
    expect(activities).toEqual(['paymentsCreatePayment', 'paymentsFindPayment', 'paymentsCreatePayment']);
    expect(effects).toHaveLength(1);
  });

  it('waits on a durable timer and looks up again while the lookup itself is down', async () => {
    await sandboxAdmin.fault({
      method: 'POST',
      path: '/payments/payments',
      fault: 'commit-then-504',
      params: { ms: 10 },
      times: 2,
    });
    // findPayment is a background read: two 400s end its first two executions at once (non-retryable).
    await sandboxAdmin.fault({
      method: 'GET',
      path: '/payments/payments',
      fault: 'status',
      params: { code: 400 },
      times: 2,
    });
    const { result, activities, effects } = await withWorkers(({ client }) => charge(client), { testWorkflows });
    expect(result.paths).toEqual(['found-by-lookup']);
    expect(activities).toEqual([
      'paymentsCreatePayment',
      'paymentsFindPayment',
      'paymentsFindPayment',
      'paymentsFindPayment',
    ]);
    expect(effects).toHaveLength(1);
  });

  it('raises the budget alert when a call is still running at 80 % of its budget', async () => {
    await sandboxAdmin.fault({
      method: 'POST',
      path: '/payments/payments',
      fault: 'latency',
      params: { ms: 1700 },
      times: 1,
    });
    const workflowId = uniqueId('slow');
    const { paths, timers } = await withWorkers(
      async ({ client }) => {
        const handle = await client.workflow.start<typeof chargeStep>('chargeStep', {
          taskQueue,
          workflowId,
          args: [{ orderId: workflowId, amount: 300, lookup: true, budget: '1900 ms' }],
        });
        const result = await handle.result();
        const events = (await handle.fetchHistory()).events ?? [];
        return {
          paths: result.paths,
          timers: {
            started: events.filter((e) => e.timerStartedEventAttributes).length,
            fired: events.filter((e) => e.timerFiredEventAttributes).length,
          },
        };
      },
      { testWorkflows },
    );
    expect(paths).toEqual(['ok']);
    // The alert timer (80 % of 1.9 s) fired while the 1.7 s call was still running.
    expect(timers).toEqual({ started: 1, fired: 1 });
  });
});

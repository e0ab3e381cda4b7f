import { WorkflowFailedError, WorkflowUpdateFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { parkedState, resolveParked, type OperatorDecision } from '../../src/contracts/messages';
import type { chargeStep, ChargeStepInput } from './pattern-test.workflows';
import { sandboxAdmin } from '../support/sandbox';
import { uniqueId, withWorkers } from '../support/temporal';
import { waitFor } from '../support/wait';

const taskQueue = 'pattern-tests-parking';
const testWorkflows = { path: require.resolve('./pattern-test.workflows'), taskQueue };

/** Starts a charge whose budget runs out on 503s, and waits until it is parked. */
async function parkedCharge(
  client: Client,
  input: Partial<ChargeStepInput> = {},
): Promise<WorkflowHandle<typeof chargeStep>> {
  await sandboxAdmin.fault({ method: 'POST', path: '/payments/payments', fault: 'status', params: { code: 503 } });
  const workflowId = uniqueId('parked');
  const handle = await client.workflow.start<typeof chargeStep>('chargeStep', {
    taskQueue,
    workflowId,
    args: [{ orderId: workflowId, amount: 990, lookup: true, ...input }],
  });
  await waitFor('the workflow to park', async () => (await handle.query(parkedState)) !== null, 15_000);
  await sandboxAdmin.clearFaults(); // the provider recovers; the operator decides what happens next
  return handle;
}

const decide = (handle: WorkflowHandle, decision: OperatorDecision) =>
  handle.executeUpdate(resolveParked, { args: [decision] });

describe('operator parking on the real dev server', () => {
  afterEach(() => sandboxAdmin.clearFaults());

  it('parks when the budget runs out, saying why, and is listed as needing attention', async () => {
    await withWorkers(
      async ({ client }) => {
        const handle = await parkedCharge(client);
        expect(await handle.query(parkedState)).toMatchObject({
          integration: 'payments',
          endpoint: 'createPayment',
          step: 'charge',
          failureType: 'ServerError',
          lastError: 'payments.createPayment: provider answered 503',
          allowed: ['retry', 'retryWithBudget', 'skip', 'compensate', 'fail'],
        });
        const description = await handle.describe();
        expect(description.searchAttributes).toMatchObject({
          NeedsAttention: [true],
          IntegrationName: ['payments'],
          WorkflowStage: ['parked'],
        });
        const listed: string[] = [];
        await waitFor('visibility to list it', async () => {
          listed.length = 0;
          for await (const w of client.workflow.list({
            query: `NeedsAttention = true AND IntegrationName = 'payments'`,
          }))
            listed.push(w.workflowId);
          return listed.includes(handle.workflowId);
        });
        await decide(handle, { action: 'fail', reason: 'test cleanup' });
      },
      { testWorkflows },
    );
  });

  it('retries when told to, and completes with the path recorded', async () => {
    const result = await withWorkers(
      async ({ client }) => {
        const handle = await parkedCharge(client);
        expect(await decide(handle, { action: 'retry' })).toEqual({ accepted: 'retry', step: 'charge' });
        return handle.result();
      },
      { testWorkflows },
    );
    expect(result.paths).toEqual(['operator-retry']);
  });

  it('retries with a new budget when told to', async () => {
    const { result, budgets } = await withWorkers(
      async ({ client }) => {
        const handle = await parkedCharge(client);
        await decide(handle, { action: 'retryWithBudget', budget: '45 seconds' });
        const value = await handle.result();
        const history = await handle.fetchHistory();
        const scheduled = (history.events ?? []).flatMap((e) => e.activityTaskScheduledEventAttributes ?? []);
        // The charges only: a 503 after a retry is looked up before it parks (an earlier attempt may have applied).
        const charges = scheduled.filter((a) => a.activityType?.name === 'paymentsCreatePayment');
        return { result: value, budgets: charges.map((a) => Number(a.scheduleToCloseTimeout?.seconds)) };
      },
      { testWorkflows },
    );
    expect(result.paths).toEqual(['operator-retry']);
    expect(budgets).toEqual([10, 45]);
  });

  it('skips with the result the operator gives', async () => {
    const given = { id: 'pay_fixed_by_hand', status: 'succeeded' };
    const result = await withWorkers(
      async ({ client }) => {
        const handle = await parkedCharge(client);
        await decide(handle, { action: 'skip', result: given });
        return handle.result();
      },
      { testWorkflows },
    );
    expect(result).toEqual({ value: given, paths: ['operator-skip'] });
  });

  it.each([
    [
      'compensate',
      { action: 'compensate' } as const,
      'CompensationRequested',
      'operator chose to compensate at step charge',
    ],
    ['fail', { action: 'fail', reason: 'customer cancelled' } as const, 'OperatorFailed', 'customer cancelled'],
  ])('ends the step when told to %s', async (_name, decision, type, message) => {
    const failure = await withWorkers(
      async ({ client }) => {
        const handle = await parkedCharge(client);
        await decide(handle, decision);
        return handle.result().catch((err: unknown) => err);
      },
      { testWorkflows },
    );
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    expect((failure as WorkflowFailedError).cause).toBeInstanceOf(ApplicationFailure);
    expect((failure as WorkflowFailedError).cause).toMatchObject({ type, message });
  });

  it('rejects a malformed decision with what it accepts, and stays parked', async () => {
    await withWorkers(
      async ({ client }) => {
        const handle = await parkedCharge(client);
        const rejected = await decide(handle, { action: 'explode' } as never).catch((err: unknown) => err);
        expect(rejected).toBeInstanceOf(WorkflowUpdateFailedError);
        expect((rejected as WorkflowUpdateFailedError).cause?.message).toBe(
          'action must be one of retry, retryWithBudget, skip, compensate, fail, e.g. {"action":"retry"}',
        );
        const noBudget = await decide(handle, { action: 'retryWithBudget', budget: 'soon' }).catch(
          (err: unknown) => err,
        );
        expect((noBudget as WorkflowUpdateFailedError).cause?.message).toContain('needs a budget such as "30 minutes"');
        expect(await handle.query(parkedState)).not.toBeNull();
        await decide(handle, { action: 'fail', reason: 'test cleanup' });
      },
      { testWorkflows },
    );
  });

  it('parks instead of resending blindly when the outcome is unknown and there is no lookup', async () => {
    await withWorkers(
      async ({ client }) => {
        await sandboxAdmin.fault({
          method: 'POST',
          path: '/payments/payments',
          fault: 'status',
          params: { code: 504 },
        });
        const workflowId = uniqueId('no-lookup');
        const handle = await client.workflow.start<typeof chargeStep>('chargeStep', {
          taskQueue,
          workflowId,
          args: [{ orderId: workflowId, amount: 100, lookup: false }],
        });
        await waitFor('the workflow to park', async () => (await handle.query(parkedState)) !== null, 15_000);
        expect(await handle.query(parkedState)).toMatchObject({ failureType: 'OutcomeUnknown' });
        await decide(handle, { action: 'fail', reason: 'test cleanup' });
      },
      { testWorkflows },
    );
  });
});

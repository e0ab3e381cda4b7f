import { sandboxAdmin } from '../support/sandbox';
import { uniqueId, withWorkers } from '../support/temporal';
import type { chargePayment } from '../../src/workflows/charge-payment.workflow';
import { WORKFLOWS_TASK_QUEUE } from '../../src/contracts/task-queues';

describe('chargePayment on the real dev server', () => {
  afterEach(() => sandboxAdmin.clearFaults());

  it('charges once over HTTP with a key made of the workflow ID and the step', async () => {
    const workflowId = uniqueId('charge');
    const payment = await withWorkers(({ client }) =>
      client.workflow.execute<typeof chargePayment>('chargePayment', {
        taskQueue: WORKFLOWS_TASK_QUEUE,
        workflowId,
        args: [{ orderId: workflowId, amount: 1250, currency: 'EUR' }],
      }),
    );
    expect(payment).toMatchObject({ status: 'succeeded', amount: 1250, correlationId: `${workflowId}:charge` });
    const effects = (await sandboxAdmin.ledger()).filter((e) => e.idempotencyKey === `${workflowId}:charge`);
    expect(effects).toHaveLength(1);
  });

  it('rides out a 503 through a Temporal retry and leaves one effect', async () => {
    const workflowId = uniqueId('charge-503');
    await sandboxAdmin.fault({
      method: 'POST',
      path: '/payments/payments',
      fault: 'status',
      params: { code: 503 },
      times: 1,
    });
    const { payment, attempts } = await withWorkers(async ({ client }) => {
      const handle = await client.workflow.start<typeof chargePayment>('chargePayment', {
        taskQueue: WORKFLOWS_TASK_QUEUE,
        workflowId,
        args: [{ orderId: workflowId, amount: 990, currency: 'EUR' }],
      });
      const result = await handle.result();
      const history = await handle.fetchHistory();
      const started = history.events?.filter((e) => e.activityTaskStartedEventAttributes) ?? [];
      return { payment: result, attempts: started[0]?.activityTaskStartedEventAttributes?.attempt };
    });
    expect(payment.id).toMatch(/^pay_/);
    expect(attempts).toBe(2);
    const effects = (await sandboxAdmin.ledger()).filter((e) => e.idempotencyKey === `${workflowId}:charge`);
    expect(effects).toHaveLength(1);
  });

  it('resends a write whose answer never came with the same key, leaving exactly one payment', async () => {
    const workflowId = uniqueId('charge-hang');
    // The sandbox applies the charge, then never answers: the worker's headers timeout ends the attempt.
    await sandboxAdmin.fault({ method: 'POST', path: '/payments/payments', fault: 'commit-then-hang', times: 1 });
    const { payment, attempt, lastFailureType } = await withWorkers(async ({ client }) => {
      const handle = await client.workflow.start<typeof chargePayment>('chargePayment', {
        taskQueue: WORKFLOWS_TASK_QUEUE,
        workflowId,
        args: [{ orderId: workflowId, amount: 4100, currency: 'EUR' }],
      });
      const result = await handle.result();
      const started = (await handle.fetchHistory()).events?.find((e) => e.activityTaskStartedEventAttributes);
      const attributes = started?.activityTaskStartedEventAttributes;
      return {
        payment: result,
        attempt: attributes?.attempt,
        lastFailureType:
          attributes?.lastFailure?.cause?.applicationFailureInfo?.type ??
          attributes?.lastFailure?.applicationFailureInfo?.type,
      };
    });
    // The second attempt succeeded, after the first ended as OutcomeUnknown (readable in the UI).
    expect({ attempt, lastFailureType }).toEqual({ attempt: 2, lastFailureType: 'OutcomeUnknown' });
    const effects = (await sandboxAdmin.ledger()).filter((e) => e.idempotencyKey === `${workflowId}:charge`);
    expect(effects).toHaveLength(1);
    expect(payment.id).toBe(effects[0]?.resourceId);
  });

  it('looks a charge up when every attempt lost its answer, instead of failing with the payment made', async () => {
    const workflowId = uniqueId('charge-lost');
    // Both attempts the user-flow budget allows are applied, then answered 504: the outcome is unknown.
    await sandboxAdmin.fault({
      method: 'POST',
      path: '/payments/payments',
      fault: 'commit-then-504',
      params: { ms: 10 },
      times: 2,
    });
    const { payment, activities } = await withWorkers(async ({ client }) => {
      const handle = await client.workflow.start<typeof chargePayment>('chargePayment', {
        taskQueue: WORKFLOWS_TASK_QUEUE,
        workflowId,
        args: [{ orderId: workflowId, amount: 700, currency: 'EUR' }],
      });
      const result = await handle.result();
      const history = await handle.fetchHistory();
      const scheduled = history.events?.flatMap(
        (e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? [],
      );
      return { payment: result, activities: scheduled };
    });
    expect(payment).toMatchObject({ status: 'succeeded', correlationId: `${workflowId}:charge` });
    expect(activities).toEqual(['paymentsCreatePayment', 'paymentsFindPayment']);
    const effects = (await sandboxAdmin.ledger()).filter((e) => e.idempotencyKey === `${workflowId}:charge`);
    expect(effects).toHaveLength(1);
  });
});

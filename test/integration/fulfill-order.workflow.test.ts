import { chargeRequest, IntegrationsClient } from '../../src/client';
import type { OrderStatus } from '../../src/contracts/messages';
import { WORKFLOWS_TASK_QUEUE } from '../../src/contracts/task-queues';
import { payments } from '../../src/integrations/payments/payments.integration';
import { chargeSettled, orderWorkflowId } from '../../src/contracts/messages';
import { IntegrationEngine } from '../../src/integrations/runtime/engine';
import { createLogger } from '../../src/observability/logger';
import { documentsWebhooks } from '../../src/webhooks/providers';
import { startReceiver } from '../../src/webhooks/server';
import type { LedgerEntry } from '../support/sandbox';
import { sandboxAdmin } from '../support/sandbox';
import { testLogger } from '../support/stack';
import { testEnv, uniqueId, withWorkers } from '../support/temporal';

/** The ledger entries whose idempotency key belongs to this order's workflow. */
async function effectsOf(orderId: string): Promise<(LedgerEntry & { seq: number })[]> {
  const ledger = (await sandboxAdmin.ledger()) as (LedgerEntry & { seq: number })[];
  return ledger.filter((e) => e.idempotencyKey?.startsWith(`order-${orderId}:`));
}
const effectNames = (effects: LedgerEntry[]) => effects.map((e) => `${e.effect}@${e.idempotencyKey?.split(':').pop()}`);

describe('fulfillOrder on the real dev server', () => {
  let client: IntegrationsClient;
  beforeAll(async () => {
    client = await IntegrationsClient.connect({ address: testEnv.temporalAddress });
    await sandboxAdmin.config({ jobMs: 300 });
  });
  afterAll(async () => {
    await sandboxAdmin.config({ jobMs: 1500, webhook: { target: null } });
    await client.close();
  });
  afterEach(() => sandboxAdmin.clearFaults());

  it('answers as soon as the charge is settled, then charges, invoices, emails and notes the CRM once each', async () => {
    const orderId = uniqueId('happy');
    const { charge, result } = await withWorkers(async () => {
      const started = await client.startOrder({ orderId, customerId: 'cus_0007', amount: 5000, currency: 'EUR' });
      return { charge: started.charge, result: await client.orderResult(orderId) };
    });
    expect(charge).toEqual({ charged: true, paymentId: expect.stringMatching(/^pay_/) as string });
    expect(result).toMatchObject({
      stage: 'completed',
      paymentId: charge.paymentId,
      invoiceUrl: expect.any(String) as string,
    });
    expect(effectNames(await effectsOf(orderId)).sort()).toEqual(
      [
        'customer.updated@crm-invoiced',
        'customer.updated@crm-pending',
        'document.generated@invoice',
        'email.sent@email-invoice',
        'payment.created@charge',
      ].sort(),
    );
  });

  it('undoes what happened, newest first, when a later step is rejected: one refund, the CRM note restored', async () => {
    const orderId = uniqueId('compensate');
    await sandboxAdmin.fault({ method: 'POST', path: '/email/send', fault: 'status', params: { code: 422 } });
    const result = await withWorkers(async () => {
      await client.startOrder({ orderId, customerId: 'cus_0008', amount: 1200, currency: 'EUR' });
      return client.orderResult(orderId);
    });
    expect(result).toMatchObject({ stage: 'compensated', compensated: ['crm-note', 'charge'] });
    expect(result.failure).toContain('provider rejected the request (422)');
    const effects = await effectsOf(orderId);
    expect(effectNames(effects)).toEqual([
      'payment.created@charge',
      'customer.updated@crm-pending',
      'document.generated@invoice',
      'customer.updated@crm-pending-undo',
      'refund.created@refund',
    ]);
    expect(effects.filter((e) => e.effect === 'refund.created')).toHaveLength(1);
  });

  it('finishes the invoice wait through the provider’s webhook, via the receiver, long before the next poll', async () => {
    const orderId = uniqueId('webhook');
    const receiver = await startReceiver({
      providers: [{ definition: documentsWebhooks, secrets: [process.env.WEBHOOK_DOCUMENTS_SECRETS!] }],
      temporal: { address: testEnv.temporalAddress },
      logger: createLogger({ name: 'receiver', level: 'error' }),
    });
    try {
      await sandboxAdmin.config({ webhook: { target: `${receiver.url}/webhooks/documents` } });
      const result = await withWorkers(async () => {
        // Timers mode with an hour between checks: only the webhook can finish it within the test.
        await client.startOrder({
          orderId,
          customerId: 'cus_0009',
          amount: 700,
          currency: 'EUR',
          invoice: { mode: 'timers', interval: '1 hour' },
        });
        return client.orderResult(orderId);
      });
      // Only the webhook can finish a wait that checks once an hour; other tests' slow jobs may finish
      // meanwhile and be delivered here too, so the count is at least one.
      expect(result.stage).toBe('completed');
      expect(receiver.stats().accepted).toBeGreaterThanOrEqual(1);
    } finally {
      await receiver.close();
    }
  });
});

describe('startOrder with the co-located fast path (directCalls)', () => {
  let engine: IntegrationEngine;
  let client: IntegrationsClient;
  beforeAll(async () => {
    engine = new IntegrationEngine({ logger: testLogger().child({ component: 'direct-calls' }) });
    client = await IntegrationsClient.connect({ address: testEnv.temporalAddress, directCalls: engine });
  });
  afterAll(async () => {
    await client.close();
    await engine.close();
  });
  afterEach(() => sandboxAdmin.clearFaults());
  const charges = async (orderId: string) =>
    (await effectsOf(orderId)).filter((e) => e.effect === 'payment.created').map((e) => e.resourceId);
  /** The charge as the workflow's own step settled it; then the order is stopped (the rest is tested above). */
  const recorded = async (orderId: string) => {
    const handle = client.temporal.workflow.getHandle(orderWorkflowId(orderId));
    const charge = await handle.executeUpdate(chargeSettled);
    await handle.terminate('test done');
    return charge;
  };

  it('answers from its own send, and the workflow records that same payment: one charge at the provider', async () => {
    const orderId = uniqueId('fast');
    const { started, workflowCharge } = await withWorkers(async () => {
      const started = await client.startOrder({ orderId, customerId: 'cus_0010', amount: 2100, currency: 'EUR' });
      return { started, workflowCharge: await recorded(orderId) };
    });
    expect(started).toMatchObject({ answeredBy: 'direct call', charge: { charged: true } });
    expect(workflowCharge).toEqual(started.charge);
    expect(await charges(orderId)).toEqual([started.charge.paymentId]);
  });

  it("takes the service's answer as the charge step's own once its signal says the send succeeded: no second request", async () => {
    const orderId = uniqueId('fast-awaited');
    // Long enough that a step sending alongside would be scheduled while the service's send is in flight.
    await sandboxAdmin.fault({ method: 'POST', path: '/payments/payments', fault: 'latency', params: { ms: 700 } });
    const { started, workflowCharge, events, memo } = await withWorkers(async () => {
      const started = await client.startOrder({ orderId, customerId: 'cus_0015', amount: 1300, currency: 'EUR' });
      const handle = client.temporal.workflow.getHandle(orderWorkflowId(orderId));
      const workflowCharge = await handle.executeUpdate(chargeSettled);
      const { events } = await handle.fetchHistory();
      const { memo } = await handle.describe();
      await handle.terminate('test done');
      return { started, workflowCharge, events: events ?? [], memo };
    });
    expect(started).toMatchObject({ answeredBy: 'direct call', charge: { charged: true } });
    expect(workflowCharge).toEqual(started.charge);
    expect(await charges(orderId)).toEqual([started.charge.paymentId]);
    const signalled = events.filter(
      (e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'directChargeSent',
    );
    expect(signalled).toHaveLength(1);
    // The step sent nothing itself: no charge activity in the history, and its path says where the answer came from.
    const chargeActivities = events.filter(
      (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'paymentsCreatePayment',
    );
    expect(chargeActivities).toEqual([]);
    expect((memo?.steps as Record<string, string[]> | undefined)?.charge).toEqual(['answered-elsewhere']);
  });

  it('charges once when the service never says its send ended (it crashed): the step sends at the deadline', async () => {
    const orderId = uniqueId('fast-silent');
    const workflowId = orderWorkflowId(orderId);
    const input = { orderId, customerId: 'cus_0016', amount: 800, currency: 'EUR' };
    // What a service that dies right after its send leaves behind: the start and the applied charge, no signal.
    const handle = await client.temporal.workflow.start('fulfillOrder', {
      taskQueue: WORKFLOWS_TASK_QUEUE,
      workflowId,
      args: [{ ...input, directCharge: { sentUntil: Date.now() + 1_500, endSignalled: true } }],
    });
    const sent = (await engine.call(payments, 'createPayment', chargeRequest(workflowId, input), {
      attempt: 1,
      workflowId,
    })) as { id: string };
    const workflowCharge = await withWorkers(async () => {
      const charge = await handle.executeUpdate(chargeSettled);
      await handle.terminate('test done');
      return charge;
    });
    expect(workflowCharge).toEqual({ charged: true, paymentId: sent.id });
    expect(await charges(orderId)).toEqual([sent.id]);
  });

  it('refunds the service-sent charge of an order cancelled before its workflow ever ran: compensated, not failed', async () => {
    const orderId = uniqueId('fast-cancelled');
    const workflowId = orderWorkflowId(orderId);
    const input = { orderId, customerId: 'cus_0014', amount: 700, currency: 'EUR' };
    // No worker yet: the start is recorded, the service's send applies the charge, and the cancellation
    // is in the history before the workflow's first task: its charge step never sends anything itself.
    const handle = await client.temporal.workflow.start('fulfillOrder', {
      taskQueue: WORKFLOWS_TASK_QUEUE,
      workflowId,
      args: [{ ...input, directCharge: { sentUntil: Date.now() + 2_000 } }],
    });
    await engine.call(payments, 'createPayment', chargeRequest(workflowId, input), { attempt: 1, workflowId });
    await handle.cancel();
    const result = await withWorkers(() => handle.result() as Promise<OrderStatus>);
    expect(result).toMatchObject({ stage: 'compensated', compensated: ['charge'], cancelled: true });
    expect(effectNames(await effectsOf(orderId))).toEqual(['payment.created@charge', 'refund.created@refund']);
  });

  it('leaves a decline or an unknown outcome to the workflow, and answers what the workflow settled', async () => {
    const declinedId = uniqueId('fast-declined');
    const unknownId = uniqueId('fast-unknown');
    const answers = await withWorkers(async () => {
      const payment = { method: 'POST', path: '/payments/payments' };
      await sandboxAdmin.fault({ ...payment, fault: 'status', params: { code: 402 } });
      const declined = await client.startOrder({
        orderId: declinedId,
        customerId: 'cus_0012',
        amount: 900,
        currency: 'EUR',
      });
      await sandboxAdmin.clearFaults();
      // Applied, then a 504: the fast path cannot know; the workflow's step resends the same request.
      await sandboxAdmin.fault({ ...payment, fault: 'commit-then-504', params: { ms: 10 }, times: 1 });
      const unknown = await client.startOrder({
        orderId: unknownId,
        customerId: 'cus_0013',
        amount: 900,
        currency: 'EUR',
      });
      await client.temporal.workflow.getHandle(orderWorkflowId(unknownId)).terminate('test done');
      return { declined, unknown };
    });
    expect(answers.declined).toMatchObject({ answeredBy: 'workflow', charge: { charged: false } });
    expect(answers.declined.charge.failure).toContain('402');
    expect(await charges(declinedId)).toEqual([]);
    // The workflow's answer: its step's resend got the provider's replay of the payment the fast path applied.
    expect(answers.unknown).toMatchObject({ answeredBy: 'workflow', charge: { charged: true } });
    expect(await charges(unknownId)).toEqual([answers.unknown.charge.paymentId]);
  });
});

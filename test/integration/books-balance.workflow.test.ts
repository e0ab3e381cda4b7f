import type { WorkflowHandle } from '@temporalio/client';
import { IntegrationsClient } from '../../src/client';
import { SandboxAdminClient } from '../../src/sandbox/admin-client';
import type { fulfillOrder } from '../../src/workflows/fulfill-order.workflow';
import { orderWorkflowId, parkedState, resolveParked, type OrderStatus } from '../../src/contracts/messages';
import type { LedgerEntry } from '../support/sandbox';
import { sandboxAdmin } from '../support/sandbox';
import { testEnv, uniqueId, withWorkers } from '../support/temporal';
import { waitFor } from '../support/wait';

/** `effect@step` of every ledger entry whose idempotency key belongs to this order, in ledger order. */
async function effectsOf(orderId: string): Promise<string[]> {
  const ledger: LedgerEntry[] = await sandboxAdmin.ledger();
  return ledger
    .filter((e) => e.idempotencyKey?.startsWith(`order-${orderId}:`))
    .map((e) => `${e.effect}@${e.idempotencyKey!.split(':').pop()}`);
}

const count = (effects: string[], effect: string) => effects.filter((e) => e.startsWith(`${effect}@`)).length;

describe('the books balance: every order ends completed, compensated or parked, each effect once', () => {
  let client: IntegrationsClient;
  const order = (orderId: string, customerId: string) => ({ orderId, customerId, amount: 4200, currency: 'EUR' });
  const handleOf = (orderId: string): WorkflowHandle<typeof fulfillOrder> =>
    client.temporal.workflow.getHandle(orderWorkflowId(orderId));
  const stageOf = async (orderId: string) => (await client.orderStatus(orderId)).stage;
  const parkedAt = async (orderId: string) => (await handleOf(orderId).query(parkedState))?.step;

  beforeAll(async () => {
    client = await IntegrationsClient.connect({ address: testEnv.temporalAddress });
  });
  afterAll(async () => {
    await sandboxAdmin.config({ jobMs: 1500 });
    await client.close();
  });
  afterEach(() => sandboxAdmin.clearFaults());

  it('refunds and restores the CRM note of an order cancelled after its charge', async () => {
    const orderId = uniqueId('cancel-after-charge');
    await sandboxAdmin.config({ jobMs: 5_000 }); // the invoice keeps it in flight while it is cancelled
    const result = await withWorkers(async () => {
      await client.startOrder(order(orderId, 'cus_0031'));
      await waitFor(
        'the invoice job to be started',
        async () => count(await effectsOf(orderId), 'document.generated') === 1,
        20_000,
      );
      await handleOf(orderId).cancel();
      return client.orderResult(orderId);
    });
    expect(result).toMatchObject({ stage: 'compensated', cancelled: true, compensated: ['crm-note', 'charge'] });
    expect(await effectsOf(orderId)).toEqual([
      'payment.created@charge',
      'customer.updated@crm-pending',
      'document.generated@invoice',
      'customer.updated@crm-pending-undo',
      'refund.created@refund',
    ]);
  }, 90_000);

  it('settles a charge cancelled while its answer hangs: found by lookup, then refunded', async () => {
    const orderId = uniqueId('cancel-mid-charge');
    await sandboxAdmin.fault({ method: 'POST', path: '/payments/payments', fault: 'commit-then-hang', times: 1 });
    const { result, answer } = await withWorkers(async () => {
      const started = client.startOrder(order(orderId, 'cus_0032'));
      // The provider applied it and holds the answer back: cancel now, while the outcome is unknown.
      await waitFor('the charge to be applied', async () => count(await effectsOf(orderId), 'payment.created') === 1);
      await handleOf(orderId).cancel();
      return { answer: await started, result: await client.orderResult(orderId) };
    });
    expect(answer.charge.charged).toBe(true);
    expect(result).toMatchObject({ stage: 'compensated', cancelled: true, compensated: ['charge'] });
    expect(await effectsOf(orderId)).toEqual(['payment.created@charge', 'refund.created@refund']);
  }, 90_000);

  it('runs the other undos when one fails, parks with what it could not undo, and says what was undone', async () => {
    const orderId = uniqueId('undo-fails');
    await sandboxAdmin.config({ jobMs: 1_000 });
    await sandboxAdmin.fault({ method: 'POST', path: '/email/send', fault: 'status', params: { code: 422 } });
    const result = await withWorkers(async () => {
      await client.startOrder(order(orderId, 'cus_0033'));
      // The note is written; from now on this customer's CRM record refuses every change.
      await waitFor('the order to wait for its invoice', async () => (await stageOf(orderId)) === 'invoicing', 20_000);
      await sandboxAdmin.fault({
        method: 'PATCH',
        path: '/crm/customers/cus_0033',
        fault: 'status',
        params: { code: 422 },
      });
      await waitFor('the failed undo to park', async () => (await parkedAt(orderId)) === 'undo crm-note', 60_000);
      // The refund ran although the CRM restore before it failed.
      expect(count(await effectsOf(orderId), 'refund.created')).toBe(1);
      await handleOf(orderId).executeUpdate(resolveParked, { args: [{ action: 'skip', result: null }] });
      return client.orderResult(orderId);
    });
    expect(result).toMatchObject({ stage: 'compensated', compensated: ['charge', 'crm-note (by an operator)'] });
  }, 120_000);

  it('retries an undo that fails for a while (5xx) on its own budget, to the end', async () => {
    const orderId = uniqueId('undo-retried');
    await sandboxAdmin.config({ jobMs: 300 });
    await sandboxAdmin.fault({ method: 'POST', path: '/email/send', fault: 'status', params: { code: 422 } });
    await sandboxAdmin.fault({
      method: 'POST',
      path: '/payments/refunds',
      fault: 'status',
      params: { code: 503 },
      times: 2,
    });
    const result = await withWorkers(async () => {
      await client.startOrder(order(orderId, 'cus_0034'));
      return client.orderResult(orderId);
    });
    expect(result).toMatchObject({ stage: 'compensated', compensated: ['crm-note', 'charge'] });
    expect(count(await effectsOf(orderId), 'refund.created')).toBe(1);
  }, 120_000);

  it('parks a keyed write whose every answer is poison, after a bounded number of timed resends', async () => {
    const orderId = uniqueId('poison');
    await sandboxAdmin.config({ jobMs: 300 });
    await sandboxAdmin.fault({ method: 'PATCH', path: '/crm/customers/cus_0035', fault: 'schema-violation' });
    const { result, events, timers, parked } = await withWorkers(async () => {
      await client.startOrder(order(orderId, 'cus_0035'));
      await waitFor('the poisoned step to park', async () => (await parkedAt(orderId)) === 'crm-pending', 90_000);
      const history = await handleOf(orderId).fetchHistory();
      const parkedInfo = await handleOf(orderId).query(parkedState);
      await sandboxAdmin.clearFaults();
      await handleOf(orderId).executeUpdate(resolveParked, { args: [{ action: 'compensate' }] });
      return {
        result: await client.orderResult(orderId),
        events: history.events?.length ?? 0,
        timers: (history.events ?? []).filter((e) => e.timerStartedEventAttributes).length,
        parked: parkedInfo,
      };
    });
    console.log(`poison answer: parked after ${events} history events (${timers} timers)`);
    expect(parked).toMatchObject({ failureType: 'InvalidResponse', endpoint: 'updateCustomer' });
    // 1 send + 5 resends, each after a timer (plus the budget-alert timers), then parked: a bounded history.
    expect(timers).toBeGreaterThanOrEqual(5);
    expect(events).toBeLessThan(200);
    expect(result).toMatchObject({ stage: 'compensated', compensated: ['charge'] });
    const effects = await effectsOf(orderId);
    // The provider applied each poisoned PATCH (same key, so once) and the charge was refunded once.
    expect(count(effects, 'customer.updated')).toBe(1);
    expect(count(effects, 'refund.created')).toBe(1);
  }, 150_000);

  it('attaches a repeated start to the running order, and answers a finished one without charging again', async () => {
    const orderId = uniqueId('repeat');
    await sandboxAdmin.config({ jobMs: 300 });
    const admin = new SandboxAdminClient(testEnv.sandboxUrl);
    const { first, second, afterEnd, afterForgotten, result } = await withWorkers(async () => {
      const [a, b] = await Promise.all([
        client.startOrder(order(orderId, 'cus_0036')),
        client.startOrder(order(orderId, 'cus_0036')),
      ]);
      const done: OrderStatus = await client.orderResult(orderId);
      const again = await client.startOrder(order(orderId, 'cus_0036'));
      await admin.forgetKeys(); // past the provider's key retention: only Temporal still knows the order
      const forgotten = await client.startOrder(order(orderId, 'cus_0036'));
      return { first: a, second: b, result: done, afterEnd: again, afterForgotten: forgotten };
    });
    expect(result.stage).toBe('completed');
    expect(second.charge).toEqual(first.charge);
    expect(afterEnd.charge).toEqual(first.charge);
    expect(afterForgotten.charge).toEqual(first.charge);
    const effects = await effectsOf(orderId);
    expect(count(effects, 'payment.created')).toBe(1);
    expect(count(effects, 'email.sent')).toBe(1);
    expect(count(effects, 'document.generated')).toBe(1);
  }, 90_000);
});

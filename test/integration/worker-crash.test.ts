import { IntegrationsClient } from '../../src/client';
import type { ServiceProcess } from '../../src/devserver/service-process';
import { workerProcess } from '../support/worker-process';
import { sandboxAdmin } from '../support/sandbox';
import { testEnv, uniqueId } from '../support/temporal';
import { waitFor } from '../support/wait';

describe('a worker killed mid-workflow', () => {
  afterAll(() => sandboxAdmin.config({ jobMs: 1500 }));

  it('is replaced by another that finishes the order with no duplicate effect', async () => {
    const orderId = uniqueId('crash');
    // A slow invoice keeps the order in flight long enough to kill the worker in the middle of it.
    await sandboxAdmin.config({ jobMs: 4_000 });
    const client = await IntegrationsClient.connect({ address: testEnv.temporalAddress });
    const first = workerProcess('worker-a');
    let second: ServiceProcess | undefined;
    try {
      await first.ready;
      await client.startOrder({ orderId, customerId: 'cus_0011', amount: 3100, currency: 'EUR' });
      await waitFor(
        'the order to reach the invoice',
        async () => (await client.orderStatus(orderId)).stage === 'invoicing',
        20_000,
      );
      await first.kill(); // SIGKILL: no graceful shutdown, in-flight activities are lost
      second = workerProcess('worker-b');
      await second.ready;
      const result = await client.orderResult(orderId);
      expect(result.stage).toBe('completed');
    } finally {
      await first.kill();
      await second?.stop();
      await client.close();
    }
    const effects = (await sandboxAdmin.ledger()).filter((e) => e.idempotencyKey?.startsWith(`order-${orderId}:`));
    const counts: Record<string, number> = {};
    for (const e of effects) counts[e.effect] = (counts[e.effect] ?? 0) + 1;
    expect(counts).toEqual({ 'payment.created': 1, 'document.generated': 1, 'email.sent': 1, 'customer.updated': 2 });
  }, 120_000);
});

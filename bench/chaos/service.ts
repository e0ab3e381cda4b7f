/**
 * A service process for the chaos runner's "service killed" phase: the fast path with the order recorded
 * first (`directCalls` + `orderIntents`), built as a service builds it (its own engine and control plane).
 * It starts every order of CHAOS_ORDERS at once as soon as it is ready; the runner SIGKILLs it mid-flight.
 * Answers go to its log; what it leaves behind is the record's relay's (in the runner) to finish.
 */
import { IntegrationsClient } from '../../src/client';
import { OrderIntents } from '../../src/client/order-intents';
import { ControlPlane } from '../../src/control/control-plane';
import { payments } from '../../src/integrations/payments/payments.integration';
import { IntegrationEngine } from '../../src/integrations/runtime/engine';
import { createLogger } from '../../src/observability/logger';
import type { FulfillOrderInput } from '../../src/workflows/fulfill-order.workflow';

async function main(): Promise<void> {
  const logger = createLogger({ name: 'chaos-service', level: 'info' });
  const orders = JSON.parse(process.env.CHAOS_ORDERS ?? '[]') as FulfillOrderInput[];
  const address = process.env.TEMPORAL_ADDRESS!;
  const plain = await IntegrationsClient.connect({ address });
  const control = new ControlPlane({ client: plain.temporal, logger: logger.child({ component: 'control' }) });
  control.prefetch([payments]);
  const engine = new IntegrationEngine({ logger: logger.child({ component: 'integration' }), control });
  const client = await IntegrationsClient.connect({
    address,
    directCalls: engine,
    orderIntents: new OrderIntents({
      url: process.env.CHAOS_INTENTS_URL!,
      table: process.env.CHAOS_INTENTS_TABLE!,
      logger: logger.child({ component: 'intents' }),
    }),
  });
  logger.info({ event: 'chaos.service.ready', orders: orders.length }, 'chaos service ready');
  await Promise.all(
    orders.map(async (input) => {
      try {
        const { charge, answeredBy } = await client.startOrder(input);
        logger.info({ event: 'chaos.service.answer', orderId: input.orderId, charge, answeredBy }, 'answered');
      } catch (err) {
        logger.warn({ event: 'chaos.service.failed', orderId: input.orderId, error: (err as Error).message }, 'failed');
      }
    }),
  );
  logger.info({ event: 'chaos.service.done' }, 'all answered');
  await new Promise(() => {}); // waits to be killed, like a service between requests
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

import { join } from 'node:path';
import { Client, type WorkflowFailedError } from '@temporalio/client';
import type { ApplicationFailure } from '@temporalio/common';
import { startService } from '../../src/devserver/service-process';
import { payments } from '../../src/integrations/payments/payments.integration';
import { ControlPlane } from '../../src/control/control-plane';
import { IntegrationEngine } from '../../src/integrations/runtime/engine';
import type { chargePayment } from '../../src/workflows/charge-payment.workflow';
import { controlWorkflowId, forceBreaker } from '../../src/control/messages';
import { WORKFLOWS_TASK_QUEUE } from '../../src/contracts/task-queues';
import { captureLogs } from '../support/log-capture';
import { sandboxAdmin } from '../support/sandbox';
import { TMP_DIR } from '../support/stack';
import { testEnv, uniqueId } from '../support/temporal';
import { waitFor } from '../support/wait';
import { connectClient } from '../../src/temporal/connection';

const charges = async () => (await sandboxAdmin.stats()).requests['POST /payments/payments'] ?? 0;

describe('a breaker opened in one process, seen by a worker process', () => {
  it('stops the other process’s calls: its charge fails fast with CircuitOpen and sends nothing', async () => {
    const connection = await connectClient({ address: testEnv.temporalAddress, namespace: 'default' });
    const client = new Client({ connection });
    // Process B: a real worker (src/workers/main.ts), with its own cache of the control state.
    const worker = startService({
      name: 'worker-b',
      entry: 'src/workers/main.ts',
      env: { ...process.env, TEMPORAL_ADDRESS: testEnv.temporalAddress },
      logFile: join(TMP_DIR, 'logs', `worker-breaker-${process.pid}.log`),
      // Its start-up checks call each provider's hello once, after polling starts: done before the faults below.
      readyEvent: 'worker.checked',
    });
    // Process A: this test, reporting the failures it saw to the shared breaker.
    const control = new ControlPlane({ client, logger: captureLogs().logger });
    const runtime = new IntegrationEngine({ logger: captureLogs().logger, control });
    try {
      await worker.ready;
      await sandboxAdmin.fault({
        method: 'GET',
        path: '/payments/hello',
        fault: 'status',
        params: { code: 503 },
        times: 10,
      });
      for (let i = 0; i < 10; i++) {
        await runtime
          .call(payments, 'hello', {}, { attempt: 1 })
          .catch((err: ApplicationFailure) => expect(err.type).toBe('ServerError'));
      }
      await control.flush();
      const opened = Date.now();

      // B reads the shared state every second: within a few seconds its charges (user-flow calls) are held
      // back, failing fast with CircuitOpen.
      const charge = () => {
        const workflowId = uniqueId('charge-open');
        return client.workflow
          .execute<typeof chargePayment>('chargePayment', {
            taskQueue: WORKFLOWS_TASK_QUEUE,
            workflowId,
            args: [{ orderId: workflowId, amount: 100, currency: 'EUR' }],
          })
          .then(
            () => 'charged',
            (err: unknown) =>
              ((err as WorkflowFailedError).cause?.cause as ApplicationFailure | undefined)?.type ?? String(err),
          );
      };
      await waitFor(
        'the worker process to hold charges back',
        async () => (await charge()) === 'CircuitOpen',
        60_000,
        100,
      );
      const elapsed = Date.now() - opened;
      // A figure, not a bound: how fast it propagates is for a benchmark, not an assertion on a shared machine.
      console.log(`breaker opened in this process stopped the worker process's charges ${elapsed} ms later`);
      // While it is open, nothing reaches the provider from B.
      const before = await charges();
      expect(await charge()).toBe('CircuitOpen');
      expect(await charges()).toBe(before);
    } finally {
      await client.workflow
        .getHandle(controlWorkflowId('payments'))
        .executeUpdate(forceBreaker, { args: [{ mode: 'auto', reason: 'test cleanup' }] })
        .catch(() => undefined);
      await sandboxAdmin.clearFaults();
      await control.close();
      await runtime.close();
      await worker.stop();
      await connection.close();
    }
  }, 90_000);
});

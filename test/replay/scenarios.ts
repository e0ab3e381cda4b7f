import type { Client } from '@temporalio/client';
import { sandboxAdmin } from '../support/sandbox';
import { WORKFLOWS_TASK_QUEUE } from '../../src/workflows/task-queues';

/**
 * The runs whose histories are committed under test/replay/histories. Each covers one path through a
 * workflow, fault paths included; `npm run record-histories` re-records all of them.
 */
export interface ReplayScenario {
  /** File name (without .json) and workflow ID prefix. */
  name: string;
  run(client: Client, workflowId: string): Promise<void>;
}

export const replayScenarios: ReplayScenario[] = [
  {
    name: 'charge-payment.succeeded',
    run: async (client, workflowId) => {
      await client.workflow.execute('chargePayment', {
        taskQueue: WORKFLOWS_TASK_QUEUE,
        workflowId,
        args: [{ orderId: workflowId, amount: 4200, currency: 'EUR' }],
      });
    },
  },
  {
    name: 'charge-payment.retried-after-503',
    run: async (client, workflowId) => {
      await sandboxAdmin.fault({
        method: 'POST',
        path: '/payments/payments',
        fault: 'status',
        params: { code: 503 },
        times: 1,
      });
      await client.workflow.execute('chargePayment', {
        taskQueue: WORKFLOWS_TASK_QUEUE,
        workflowId,
        args: [{ orderId: workflowId, amount: 1999, currency: 'EUR' }],
      });
    },
  },
];

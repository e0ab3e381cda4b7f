import { Client, Connection, type WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import type { Payment } from '../integrations/payments/payments.integration';
import type { chargePayment, ChargePaymentInput } from '../workflows/charge-payment.workflow';
import { WORKFLOWS_TASK_QUEUE } from '../workflows/task-queues';

export interface ClientOptions {
  address: string;
  namespace?: string;
}

/** What a service uses to start and follow this project's workflows. */
export class IntegrationsClient {
  private constructor(
    readonly temporal: Client,
    private readonly connection: Connection,
  ) {}

  static async connect(options: ClientOptions): Promise<IntegrationsClient> {
    const connection = await Connection.connect({ address: options.address });
    return new IntegrationsClient(new Client({ connection, namespace: options.namespace ?? 'default' }), connection);
  }

  /**
   * Starts a charge. `orderId` makes the workflow ID, so a service that calls twice for one order gets
   * the running (or finished) charge instead of a second one.
   */
  async startChargePayment(
    input: ChargePaymentInput,
  ): Promise<WorkflowHandleWithFirstExecutionRunId<typeof chargePayment>> {
    return this.temporal.workflow.start<typeof chargePayment>('chargePayment', {
      taskQueue: WORKFLOWS_TASK_QUEUE,
      workflowId: `charge-payment-${input.orderId}`,
      args: [input],
      workflowIdConflictPolicy: 'USE_EXISTING',
    });
  }

  async chargePayment(input: ChargePaymentInput): Promise<Payment> {
    return (await this.startChargePayment(input)).result();
  }

  async close(): Promise<void> {
    await this.connection.close();
  }
}

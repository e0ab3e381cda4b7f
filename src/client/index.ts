import {
  Client,
  Connection,
  WithStartWorkflowOperation,
  type WorkflowHandleWithFirstExecutionRunId,
} from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { dataConverterFromConfig } from '../codec/data-converter';
import { configSchema } from '../config/config';
import type { Payment } from '../integrations/payments/payments.integration';
import type { chargePayment, ChargePaymentInput } from '../workflows/charge-payment.workflow';
import type { fulfillOrder, FulfillOrderInput } from '../workflows/fulfill-order.workflow';
import {
  chargeSettled,
  orderStatus,
  orderWorkflowId,
  type ChargeOutcome,
  type OrderStatus,
} from '../workflows/messages';
import { WORKFLOWS_TASK_QUEUE } from '../workflows/task-queues';

export interface ClientOptions {
  address: string;
  namespace?: string;
  /**
   * Payload codecs; must match the workers'. When omitted, read from the environment
   * (`PAYLOAD_ENCRYPTION_KEYS(_FILE)`, see `dataConverterFromConfig`); `null` forces plain payloads.
   */
  dataConverter?: DataConverter | null;
}

/** CRM API v2 rollout from the environment (CRM_V2_DARK_LAUNCH, CRM_V2_CANARY_PERCENT). */
export function crmV2Rollout(env: NodeJS.ProcessEnv = process.env): { darkLaunch: boolean; canaryPercent: number } {
  const parsed = configSchema.pick({ CRM_V2_DARK_LAUNCH: true, CRM_V2_CANARY_PERCENT: true }).parse({
    CRM_V2_DARK_LAUNCH: env.CRM_V2_DARK_LAUNCH || undefined,
    CRM_V2_CANARY_PERCENT: env.CRM_V2_CANARY_PERCENT || undefined,
  });
  return { darkLaunch: parsed.CRM_V2_DARK_LAUNCH === 'true', canaryPercent: parsed.CRM_V2_CANARY_PERCENT };
}

/** What a service uses to start and follow this project's workflows. */
export class IntegrationsClient {
  private constructor(
    readonly temporal: Client,
    private readonly connection: Connection,
  ) {}

  static async connect(options: ClientOptions): Promise<IntegrationsClient> {
    const dataConverter =
      options.dataConverter === undefined ? dataConverterFromConfig(process.env) : (options.dataConverter ?? undefined);
    const connection = await Connection.connect({ address: options.address });
    return new IntegrationsClient(
      new Client({ connection, namespace: options.namespace ?? 'default', dataConverter }),
      connection,
    );
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

  /**
   * Starts an order and answers as soon as its charge is settled (update-with-start: one round trip),
   * while the invoice, email and CRM steps go on in the background. Calling it again for the same order
   * attaches to the running workflow instead of starting a second one.
   */
  async startOrder(input: FulfillOrderInput): Promise<{ workflowId: string; charge: ChargeOutcome }> {
    const start = new WithStartWorkflowOperation<typeof fulfillOrder>('fulfillOrder', {
      taskQueue: WORKFLOWS_TASK_QUEUE,
      workflowId: orderWorkflowId(input.orderId),
      // The rollout is decided here, once, and recorded with the order: replays never see a later setting.
      args: [{ crmV2: crmV2Rollout(), ...input }],
      workflowIdConflictPolicy: 'USE_EXISTING',
      staticSummary: `Fulfil order ${input.orderId}: charge, invoice, email, CRM`,
    });
    const charge = await this.temporal.workflow.executeUpdateWithStart(chargeSettled, {
      startWorkflowOperation: start,
    });
    return { workflowId: orderWorkflowId(input.orderId), charge };
  }

  /** Where an order is now. */
  async orderStatus(orderId: string): Promise<OrderStatus> {
    return this.temporal.workflow.getHandle(orderWorkflowId(orderId)).query(orderStatus);
  }

  /** Waits for an order to finish (completed, compensated or failed). */
  async orderResult(orderId: string): Promise<OrderStatus> {
    return this.temporal.workflow.getHandle<typeof fulfillOrder>(orderWorkflowId(orderId)).result();
  }

  async close(): Promise<void> {
    await this.connection.close();
  }
}

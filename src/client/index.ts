import { Client, WithStartWorkflowOperation, type Connection, type WorkflowHandle } from '@temporalio/client';
import { WorkflowExecutionAlreadyStartedError, type DataConverter } from '@temporalio/common';
import { dataConverterFromConfig } from '../codec/data-converter';
import { configSchema } from '../config/config';
import { connectClient, temporalSettingsFromEnv, type TemporalSettings } from '../temporal/connection';
import { tracingClientInterceptors } from '../temporal/tracing';
import type { Payment } from '../integrations/payments/payments.integration';
import type { chargePayment, ChargePaymentInput } from '../workflows/charge-payment.workflow';
import type { fulfillOrder, FulfillOrderInput } from '../workflows/fulfill-order.workflow';
import {
  chargeSettled,
  orderStatus,
  orderWorkflowId,
  type ChargeOutcome,
  type OrderStatus,
} from '../contracts/messages';
import { WORKFLOWS_TASK_QUEUE } from '../contracts/task-queues';
import { startBulk, type BulkHandle, type BulkRequest } from './bulk-lane';

export interface ClientOptions {
  address: string;
  namespace?: string;
  /**
   * TLS (server CA, server name), mTLS (client certificate and key files) and API key. When omitted, read from
   * the environment (`TEMPORAL_TLS_*`, `TEMPORAL_API_KEY(_FILE)`, see src/temporal/connection.ts); `null` forces
   * plaintext with no key.
   */
  security?: Pick<TemporalSettings, 'tls' | 'apiKey' | 'apiKeyFile'> | null;
  /**
   * Payload codecs; must match the workers'. When omitted, read from the environment
   * (`PAYLOAD_ENCRYPTION_KEYS(_FILE)`, see `dataConverterFromConfig`); `null` forces plain payloads.
   */
  dataConverter?: DataConverter | null;
  /**
   * Each start (update-with-start for orders) becomes a span whose context the workflow, its activities
   * and their provider requests continue (`@temporalio/interceptors-opentelemetry`), under the span active
   * in the caller, if any. Spans go to the OpenTelemetry tracer provider the service registered (its own,
   * or `startTracing` from src/observability/tracing.ts). When omitted: on when `TRACING_EXPORTER` is
   * `otlp` or `console`. @default off
   */
  tracing?: boolean;
}

/** Tracing from the environment: on when TRACING_EXPORTER names an exporter (otlp, console). */
export function tracingFromEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  return configSchema.shape.TRACING_EXPORTER.parse(env.TRACING_EXPORTER || undefined) !== 'none';
}

/** CRM API v2 rollout from the environment (CRM_V2_DARK_LAUNCH, CRM_V2_CANARY_PERCENT). */
export function crmV2Rollout(env: NodeJS.ProcessEnv = process.env): { darkLaunch: boolean; canaryPercent: number } {
  const parsed = configSchema.pick({ CRM_V2_DARK_LAUNCH: true, CRM_V2_CANARY_PERCENT: true }).parse({
    CRM_V2_DARK_LAUNCH: env.CRM_V2_DARK_LAUNCH || undefined,
    CRM_V2_CANARY_PERCENT: env.CRM_V2_CANARY_PERCENT || undefined,
  });
  return { darkLaunch: parsed.CRM_V2_DARK_LAUNCH === 'true', canaryPercent: parsed.CRM_V2_CANARY_PERCENT };
}

/**
 * A workflow ID is used once: a repeated start attaches to the running execution, and one for an
 * execution that already closed is refused (and answered with its result). Temporal remembers closed
 * executions for the namespace's retention; set it longer than any provider's idempotency-key retention.
 */
const onceOnly = { workflowIdConflictPolicy: 'USE_EXISTING', workflowIdReusePolicy: 'REJECT_DUPLICATE' } as const;

/** The user-flow answer a finished order gives. */
function chargeOf(status: OrderStatus): ChargeOutcome {
  return status.paymentId !== undefined
    ? { charged: true, paymentId: status.paymentId }
    : { charged: false, failure: status.failure ?? `order ended ${status.stage}` };
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
    const namespace = options.namespace ?? 'default';
    const security = options.security === undefined ? temporalSettingsFromEnv(process.env) : (options.security ?? {});
    const connection = await connectClient({
      address: options.address,
      namespace,
      tls: security.tls,
      apiKey: security.apiKey,
      apiKeyFile: security.apiKeyFile,
    });
    const interceptors = tracingClientInterceptors(options.tracing ?? tracingFromEnv(process.env));
    return new IntegrationsClient(new Client({ connection, namespace, dataConverter, interceptors }), connection);
  }

  /**
   * Starts a charge. `orderId` makes the workflow ID, so a service that calls twice for one order gets
   * the running charge, or the finished one's handle, instead of a second one.
   */
  async startChargePayment(input: ChargePaymentInput): Promise<WorkflowHandle<typeof chargePayment>> {
    const workflowId = `charge-payment-${input.orderId}`;
    try {
      return await this.temporal.workflow.start<typeof chargePayment>('chargePayment', {
        taskQueue: WORKFLOWS_TASK_QUEUE,
        workflowId,
        args: [input],
        ...onceOnly,
      });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      return this.temporal.workflow.getHandle<typeof chargePayment>(workflowId);
    }
  }

  async chargePayment(input: ChargePaymentInput): Promise<Payment> {
    return (await this.startChargePayment(input)).result();
  }

  /**
   * Starts an order and answers as soon as its charge is settled (update-with-start: one round trip),
   * while the invoice, email and CRM steps go on in the background. Calling it again for the same order
   * attaches to the running workflow; for an order that already finished, it answers what that order
   * did and starts nothing. A charge parked for an operator answers `{ charged: false, pending: true }`.
   */
  async startOrder(input: FulfillOrderInput): Promise<{ workflowId: string; charge: ChargeOutcome }> {
    const workflowId = orderWorkflowId(input.orderId);
    const start = new WithStartWorkflowOperation<typeof fulfillOrder>('fulfillOrder', {
      taskQueue: WORKFLOWS_TASK_QUEUE,
      workflowId,
      // The rollout is decided here, once, and recorded with the order: replays never see a later setting.
      args: [{ crmV2: crmV2Rollout(), ...input }],
      ...onceOnly,
      staticSummary: `Fulfil order ${input.orderId}: charge, invoice, email, CRM`,
    });
    try {
      const charge = await this.temporal.workflow.executeUpdateWithStart(chargeSettled, {
        startWorkflowOperation: start,
      });
      return { workflowId, charge };
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      // The order already ran to its end: answer what it did, start nothing.
      return { workflowId, charge: chargeOf(await this.finishedOrder(workflowId)) };
    }
  }

  /** The final state of a closed order: its result, or (failed by an operator) its last status. */
  private async finishedOrder(workflowId: string): Promise<OrderStatus> {
    const handle = this.temporal.workflow.getHandle<typeof fulfillOrder>(workflowId);
    try {
      return await handle.result();
    } catch {
      return handle.query(orderStatus);
    }
  }

  /** Where an order is now. */
  async orderStatus(orderId: string): Promise<OrderStatus> {
    return this.temporal.workflow.getHandle(orderWorkflowId(orderId)).query(orderStatus);
  }

  /** Waits for an order to finish (completed, compensated or failed). */
  async orderResult(orderId: string): Promise<OrderStatus> {
    return this.temporal.workflow.getHandle<typeof fulfillOrder>(orderWorkflowId(orderId)).result();
  }

  /**
   * Sends many items of one endpoint through the high-volume lane (src/client/bulk-lane.ts): one
   * workflow per batch of up to 500 items, each item with its own key, exactly once under worker crashes.
   */
  async sendInBulk(request: BulkRequest): Promise<BulkHandle> {
    return startBulk(this.temporal, request);
  }

  async close(): Promise<void> {
    await this.connection.close();
  }
}

export {
  BulkResolveRequestError,
  bulkResolveProgress,
  bulkResolveRequestProblems,
  cancelBulkResolve,
  startBulkResolve,
  type BulkResolveProgress,
  type BulkResolveRequest,
} from './bulk-resolve';

export {
  BulkRequestError,
  bulkHandle,
  bulkRequestProblems,
  splitIntoBatches,
  startBulk,
  type BulkBatchStatus,
  type BulkBatchSummary,
  type BulkHandle,
  type BulkItem,
  type BulkRequest,
  type BulkSummary,
} from './bulk-lane';

import { Client, WithStartWorkflowOperation, type Connection, type WorkflowHandle } from '@temporalio/client';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type DataConverter } from '@temporalio/common';
import { dataConverterFromConfig } from '../codec/data-converter';
import { configSchema } from '../config/config';
import { connectClient, temporalSettingsFromEnv, type TemporalSettings } from '../temporal/connection';
import { tracingClientInterceptors } from '../temporal/tracing';
import type { Payment } from '../integrations/payments/payments.integration';
import type { chargePayment, ChargePaymentInput } from '../workflows/charge-payment.workflow';
import type { fulfillOrder, FulfillOrderInput } from '../workflows/fulfill-order.workflow';
import {
  chargeSettled,
  directChargeEnded,
  directChargeSent,
  orderStatus,
  orderWorkflowId,
  type ChargeOutcome,
  type OrderStatus,
} from '../contracts/messages';
import { WORKFLOWS_TASK_QUEUE } from '../contracts/task-queues';
import { payments } from '../integrations/payments/payments.integration';
import type { IntegrationEngine } from '../integrations/runtime/engine';
import { durationMs } from '../integrations/kit/duration';
import { semanticsOf } from '../integrations/kit/failures';
import { userFlow } from '../integrations/kit/profiles';
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
  /**
   * The co-located fast path of `startOrder`: an IntegrationEngine in this process (so the service holds the
   * payment credentials, as a co-located worker would). Build it as the workers build theirs, with the same
   * control plane (`ControlPlane`: breakers, kill switches; `prefetch([payments])`, so no send waits for a first
   * read) and limiter, so its calls pass the same gate.
   * `startOrder` then starts the workflow (the durable record), and only then sends the workflow's own charge
   * request itself, with the same idempotency key and body: the provider applies it once and replays it to
   * the workflow's step. The order is started with `directCharge.endSignalled` and this call signals when its
   * send ended (`directChargeSent`, `directChargeEnded`), so the step sends its own request only then (or at
   * the send's deadline, if this process died), never while this send is in flight. Only a clean success
   * answers at once; anything else waits for the workflow, as without it. Requires a provider that answers a second request with the same key (even one sent while the
   * first is in flight) with the first one's result, as API People does. The service owns the engine (and
   * closes it after `close()`). @default none: every answer waits for the workflow
   */
  directCalls?: IntegrationEngine;
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

/** Between the fast path's send being aborted at the latest and the workflow trusting a lookup. */
const DIRECT_SEND_MARGIN_MS = 1_000;

/** What `startOrder` answers. */
export interface StartedOrder {
  workflowId: string;
  charge: ChargeOutcome;
  /**
   * Who settled the answer: the provider's clean success to the fast path's own send (`directCalls`), or the
   * workflow (its `chargeSettled` update: without the fast path, when the fast path's send was not a clean
   * success, and for an order that already existed). Either way the workflow records the same charge.
   */
  answeredBy: 'direct call' | 'workflow';
}

/**
 * The charge `fulfillOrder` sends (its `charge` step: the key is `stepKey('charge')`, src/workflows/keys.ts,
 * and the body is built the same way in src/workflows/fulfill-order.workflow.ts). The fast path must send
 * exactly this: the provider dedupes by key and request, and refuses a key reused with another body.
 */
export function chargeRequest(workflowId: string, input: FulfillOrderInput): { key: string; body: object } {
  return {
    key: `${workflowId}:charge`,
    body: { orderId: input.orderId, amount: input.amount, currency: input.currency },
  };
}

/** What a service uses to start and follow this project's workflows. */
export class IntegrationsClient {
  private constructor(
    readonly temporal: Client,
    private readonly connection: Connection,
    private readonly directCalls?: IntegrationEngine,
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
    return new IntegrationsClient(
      new Client({ connection, namespace, dataConverter, interceptors }),
      connection,
      options.directCalls,
    );
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
   * With `directCalls`, a new order is started first and its charge sent from here (`startOrderDirect`).
   */
  async startOrder(input: FulfillOrderInput): Promise<StartedOrder> {
    const workflowId = orderWorkflowId(input.orderId);
    const options = {
      taskQueue: WORKFLOWS_TASK_QUEUE,
      workflowId,
      // The rollout is decided here, once, and recorded with the order: replays never see a later setting.
      args: [{ crmV2: crmV2Rollout(), ...input }] as [FulfillOrderInput],
      staticSummary: `Fulfil order ${input.orderId}: charge, invoice, email, CRM`,
    };
    if (this.directCalls) {
      const fast = await this.startOrderDirect(this.directCalls, workflowId, input, options);
      if (fast) return { workflowId, ...fast };
    }
    const start = new WithStartWorkflowOperation<typeof fulfillOrder>('fulfillOrder', { ...options, ...onceOnly });
    try {
      const charge = await this.temporal.workflow.executeUpdateWithStart(chargeSettled, {
        startWorkflowOperation: start,
      });
      return { workflowId, charge, answeredBy: 'workflow' };
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      // The order already ran to its end: answer what it did, start nothing.
      return { workflowId, charge: chargeOf(await this.finishedOrder(workflowId)), answeredBy: 'workflow' };
    }
  }

  /**
   * The fast path (`directCalls`): a plain start, then the workflow's own charge request, sent from here.
   * Answers the charge when the provider answered a clean success; otherwise undefined (the order already
   * existed: nothing was sent) or the workflow's own `chargeSettled` answer (a decline, an unknown outcome,
   * an open breaker: the workflow settles it, as without the fast path).
   *
   * Exactly once: the start is acknowledged (the durable record exists) before anything is sent, so no
   * crash leaves a charge without its workflow; the request is the one the workflow's `charge` step sends
   * (key `stepKey('charge')`, the same body), so the provider applies it once and answers the step with the
   * same payment; a start that finds the order already there (running or finished) sends nothing, so a
   * repeat call can never resend a charge the workflow has settled otherwise.
   */
  private async startOrderDirect(
    engine: IntegrationEngine,
    workflowId: string,
    input: FulfillOrderInput,
    options: { taskQueue: string; workflowId: string; args: [FulfillOrderInput]; staticSummary: string },
  ): Promise<Omit<StartedOrder, 'workflowId'> | undefined> {
    // The send's deadline, recorded with the order: the workflow's charge step counts the charge as maybe
    // applied until then, and trusts a lookup only after it (a cancellation at once still refunds it).
    const sendBudgetMs = durationMs(userFlow.startToClose);
    const sentUntil = Date.now() + sendBudgetMs + DIRECT_SEND_MARGIN_MS;
    let handle: WorkflowHandle<typeof fulfillOrder>;
    try {
      handle = await this.temporal.workflow.start<typeof fulfillOrder>('fulfillOrder', {
        ...options,
        // endSignalled: this call signals when its send ended (below), so the step does not send meanwhile.
        args: [{ ...options.args[0], directCharge: { sentUntil, endSignalled: true } }],
        // Only an order this call created is charged from here; any other goes the attached way below.
        workflowIdConflictPolicy: 'FAIL',
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
      });
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) return undefined;
      throw err;
    }
    try {
      const payment = (await engine.call(payments, 'createPayment', chargeRequest(workflowId, input), {
        attempt: 1,
        workflowId,
        activityId: 'charge (direct)',
        // Never past the deadline the workflow was told, however long the start or the limiter took.
        signal: AbortSignal.timeout(Math.max(0, sentUntil - DIRECT_SEND_MARGIN_MS - Date.now())),
      })) as Payment;
      // The step takes this answer as its own (no request of its own). Not awaited: off the answer's path; a
      // signal that never arrives (this process died) only makes the step wait for sentUntil, then send its
      // own request with the same key and get the provider's replay.
      void handle.signal(directChargeSent, { answered: true, payment }).catch(() => undefined);
      return { charge: { charged: true, paymentId: payment.id }, answeredBy: 'direct call' };
    } catch (err) {
      // A definite failure applied nothing: the workflow's step need not wait for this send's deadline.
      // Anything else (an unknown outcome, an engine error): the step sends its own request now, same key.
      // Awaited: the answer below is the workflow's, and its step waits for this.
      const failureType = (err as { type?: unknown }).type;
      if (typeof failureType === 'string' && !semanticsOf(failureType).ambiguousOnWrite)
        await handle.signal(directChargeEnded, { applied: false, failureType }).catch(() => undefined);
      else await handle.signal(directChargeSent, { answered: false }).catch(() => undefined);
      // Not a clean success: what happened is the workflow's to settle (its step resends the same request,
      // or looks it up), and the service gets the workflow's answer, parked -> pending included.
      try {
        return { charge: await handle.executeUpdate(chargeSettled), answeredBy: 'workflow' };
      } catch (updateErr) {
        // The order ran to its end while this send hung (its own step got the provider's answer): answer that.
        if (!(updateErr instanceof WorkflowNotFoundError)) throw updateErr;
        return { charge: chargeOf(await this.finishedOrder(workflowId)), answeredBy: 'workflow' };
      }
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

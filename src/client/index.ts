import { Client, WithStartWorkflowOperation, type Connection, type WorkflowHandle } from '@temporalio/client';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type DataConverter } from '@temporalio/common';
import { dataConverterFromConfig } from '../codec/data-converter';
import { fromStored, toStored } from '../codec/stored-payloads';
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
import type { OrderIntents, RecordedStart } from './order-intents';

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
  /**
   * With `directCalls`: the order's durable record in PostgreSQL (src/client/order-intents.ts), written
   * before the charge is sent, so the charge and the workflow's start go out at the same time and the answer
   * waits for the send only (not start, then send). Its relay (run by this client) starts any recorded order
   * whose service died before its start landed. Every service starting orders must use the same store.
   * The client creates its table when missing and closes it with `close()`. @default none: the start first
   */
  orderIntents?: OrderIntents;
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
    private readonly intents?: OrderIntents,
    /** The client's payload codecs: the order's record is stored through them too. */
    private readonly dataConverter?: DataConverter,
  ) {
    intents?.startRelay(async (workflowId, stored) => {
      await this.startRecorded(workflowId, await fromStored<RecordedStart>(dataConverter, stored), 'relay');
    });
  }

  /** Starts of recorded orders still in flight: this client's queries of such an order wait for its start. */
  private readonly starting = new Map<string, Promise<unknown>>();

  static async connect(options: ClientOptions): Promise<IntegrationsClient> {
    if (options.orderIntents && !options.directCalls) {
      throw new Error("orderIntents records the fast path's orders: pass directCalls with it (or drop orderIntents)");
    }
    await options.orderIntents?.ensureSchema();
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
      options.orderIntents,
      dataConverter,
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
   * With `directCalls`, a new order's charge is sent from here: after its start (`startOrderDirect`) or, with
   * `orderIntents`, alongside it (`startOrderRecorded`).
   */
  async startOrder(input: FulfillOrderInput): Promise<StartedOrder> {
    const workflowId = orderWorkflowId(input.orderId);
    let options = {
      taskQueue: WORKFLOWS_TASK_QUEUE,
      workflowId,
      // The rollout is decided here, once, and recorded with the order: replays never see a later setting.
      args: [{ crmV2: crmV2Rollout(), ...input }] as [FulfillOrderInput],
      staticSummary: `Fulfil order ${input.orderId}: charge, invoice, email, CRM`,
    };
    if (this.directCalls && this.intents) {
      const fast = await this.startOrderRecorded(this.directCalls, this.intents, workflowId, input, options);
      if ('charge' in fast) return { workflowId, ...fast };
      // Recorded by an earlier call: attach, and if its start has not landed yet, make the start it recorded.
      options = { ...options, ...fast };
    } else if (this.directCalls) {
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

  /** The send's deadline, recorded with the order (see `FulfillOrderInput.directCharge`). */
  private directChargeArgs(options: { args: [FulfillOrderInput] }): [FulfillOrderInput] {
    // The workflow's charge step counts the charge as maybe applied until then, and trusts a lookup only
    // after it (a cancellation at once still refunds it). endSignalled: this client signals when its send
    // ended, so the step does not send meanwhile.
    const sentUntil = Date.now() + durationMs(userFlow.startToClose) + DIRECT_SEND_MARGIN_MS;
    return [{ ...options.args[0], directCharge: { sentUntil, endSignalled: true } }];
  }

  /** The fast path's own send: the workflow's charge request, never past the deadline the workflow was told. */
  private async sendCharge(
    engine: IntegrationEngine,
    workflowId: string,
    input: FulfillOrderInput,
    sentUntil: number,
  ): Promise<Payment> {
    return (await engine.call(payments, 'createPayment', chargeRequest(workflowId, input), {
      attempt: 1,
      workflowId,
      activityId: 'charge (direct)',
      signal: AbortSignal.timeout(Math.max(0, sentUntil - DIRECT_SEND_MARGIN_MS - Date.now())),
    })) as Payment;
  }

  /**
   * The fast path with the order's durable record (`orderIntents`): the record is committed, then the
   * workflow's start and the charge go out together; a clean success answers at once (the start lands
   * meanwhile, and the step takes the answer from the signal sent once it has). An order recorded by an
   * earlier call sends nothing: its recorded start is returned, for the attached way.
   *
   * Exactly once: the record exists before anything is sent, and its relay starts the workflow if this
   * process dies before its own start landed (the step then sends the same request, same key: the
   * provider's replay); a repeat call finds the record and never sends. A store that cannot be reached
   * falls back to the start-first path (`startOrderDirect`), which needs no record.
   */
  private async startOrderRecorded(
    engine: IntegrationEngine,
    intents: OrderIntents,
    workflowId: string,
    input: FulfillOrderInput,
    options: { taskQueue: string; workflowId: string; args: [FulfillOrderInput]; staticSummary: string },
  ): Promise<Omit<StartedOrder, 'workflowId'> | RecordedStart> {
    const recorded: RecordedStart = { args: this.directChargeArgs(options), staticSummary: options.staticSummary };
    try {
      const claim = await intents.claim(workflowId, await toStored(this.dataConverter, recorded));
      if (!claim.first) return await fromStored<RecordedStart>(this.dataConverter, claim.start);
    } catch (err) {
      intents.logger.warn(
        { event: 'order.intent_unavailable', workflowId, error: (err as Error).message },
        'order intents: store unreachable; this order starts first, then charges',
      );
      return (await this.startOrderDirect(engine, workflowId, input, options)) ?? recorded;
    }
    const started = this.startRecorded(workflowId, recorded, 'service');
    this.starting.set(workflowId, started);
    // A failed start is awaited below, or left to the relay.
    void started.catch(() => undefined).finally(() => this.starting.delete(workflowId));
    try {
      const payment = await this.sendCharge(engine, workflowId, input, recorded.args[0].directCharge!.sentUntil);
      // Off the answer's path. A start or signal that never lands only makes the step wait for sentUntil.
      void started
        .then((handle) => handle.signal(directChargeSent, { answered: true, payment }))
        .catch(() => undefined);
      return { charge: { charged: true, paymentId: payment.id }, answeredBy: 'direct call' };
    } catch (err) {
      // Not a clean success: the workflow's to settle. Its start failing too throws here (the relay starts
      // the order later and its step settles the charge; the caller can ask orderStatus then).
      return this.settledByWorkflow(await started, workflowId, err);
    }
  }

  /**
   * The start of a recorded order, exactly as recorded; a running one is attached to. The service's own
   * start finding the order closed means it was started without the store: its charge went out anyway.
   */
  private async startRecorded(
    workflowId: string,
    recorded: RecordedStart,
    by: 'service' | 'relay',
  ): Promise<WorkflowHandle<typeof fulfillOrder>> {
    try {
      const handle = await this.temporal.workflow.start<typeof fulfillOrder>('fulfillOrder', {
        taskQueue: WORKFLOWS_TASK_QUEUE,
        workflowId,
        args: recorded.args,
        staticSummary: recorded.staticSummary,
        ...onceOnly,
      });
      if (by === 'service') void this.intents?.markStarted(workflowId);
      return handle;
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      if (by === 'service') {
        this.intents?.logger.error(
          { event: 'order.started_without_intent', workflowId },
          'order intents: the order had finished before it was recorded (started without this store); its charge was sent again with the same key',
        );
      }
      return this.temporal.workflow.getHandle<typeof fulfillOrder>(workflowId);
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
    const args = this.directChargeArgs(options);
    let handle: WorkflowHandle<typeof fulfillOrder>;
    try {
      handle = await this.temporal.workflow.start<typeof fulfillOrder>('fulfillOrder', {
        ...options,
        args,
        // Only an order this call created is charged from here; any other goes the attached way below.
        workflowIdConflictPolicy: 'FAIL',
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
      });
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) return undefined;
      throw err;
    }
    try {
      // Never past the deadline the workflow was told, however long the start or the limiter took.
      const payment = await this.sendCharge(engine, workflowId, input, args[0].directCharge!.sentUntil);
      // The step takes this answer as its own (no request of its own). Not awaited: off the answer's path; a
      // signal that never arrives (this process died) only makes the step wait for sentUntil, then send its
      // own request with the same key and get the provider's replay.
      void handle.signal(directChargeSent, { answered: true, payment }).catch(() => undefined);
      return { charge: { charged: true, paymentId: payment.id }, answeredBy: 'direct call' };
    } catch (err) {
      return this.settledByWorkflow(handle, workflowId, err);
    }
  }

  /** The fast path's send was not a clean success: the step is told how it ended, the workflow answers. */
  private async settledByWorkflow(
    handle: WorkflowHandle<typeof fulfillOrder>,
    workflowId: string,
    err: unknown,
  ): Promise<Omit<StartedOrder, 'workflowId'>> {
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
    await this.startLanded(orderId);
    return this.temporal.workflow.getHandle(orderWorkflowId(orderId)).query(orderStatus);
  }

  /** An order this client answered before its start landed (`orderIntents`): wait for the start. */
  private async startLanded(orderId: string): Promise<void> {
    await this.starting.get(orderWorkflowId(orderId))?.catch(() => undefined);
  }

  /** Waits for an order to finish (completed, compensated or failed). */
  async orderResult(orderId: string): Promise<OrderStatus> {
    await this.startLanded(orderId);
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
    await Promise.allSettled(this.starting.values());
    await this.intents?.close();
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

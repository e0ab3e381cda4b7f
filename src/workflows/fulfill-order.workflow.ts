import type { Duration } from '@temporalio/common';
import {
  ApplicationFailure,
  CancellationScope,
  condition,
  executeChild,
  isCancellation,
  log,
  patched,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import { customerFromV2 } from '../integrations/crm/crm-v2.mapping';
import type { Payment } from '../integrations/payments/payments.integration';
import { durationMs } from '../integrations/kit/duration';
import { integrationViews } from '../integrations/manifest.generated';
import { awaitDocumentJob, type AwaitDocumentJobInput } from './await-document-job.workflow';
import { proxyIntegration, type EndpointCall } from './integration-proxy';
import {
  chargeSettled,
  directChargeEnded,
  directChargeSent,
  documentJobWorkflowId,
  orderStatus,
  type ChargeOutcome,
  type OrderStatus,
} from '../contracts/messages';
import { WorkflowStage } from '../contracts/search-attributes';
import { parkedStep } from './patterns/park';
import { Saga } from './patterns/saga';
import { failureSummary, runStep, type StepOptions } from './patterns/steps';
import { chooseVersion, settleShadows, shadow } from './patterns/versions';
import type { DriftActivities } from '../activities/drift.activities';
import { integrationTaskQueue } from '../contracts/task-queues';

const { payments, crm, crmv2: crmV2, documents, email } = integrationViews;
const pay = proxyIntegration(payments);
const customers = proxyIntegration(crm);
const customersV2 = proxyIntegration(crmV2);
const docs = proxyIntegration(documents);
const mail = proxyIntegration(email);
// A dark launch's disagreement is drift: counted and sampled (redacted) on the candidate's queue.
const driftV2 = proxyActivities<DriftActivities>({
  taskQueue: integrationTaskQueue(crmV2.name),
  startToCloseTimeout: '10 seconds',
  retry: { maximumAttempts: 3 },
});

export interface FulfillOrderInput {
  /** Our order reference; it makes the workflow ID. No PII. */
  orderId: string;
  /** The CRM customer id (the email address is read from the CRM, never passed around). */
  customerId: string;
  /** Minor units. */
  amount: number;
  currency: string;
  /**
   * CRM API v2 rollout, decided by the service when it starts the order (so it is in the history and
   * replays the same, whatever the configuration is later). @default v1 only, no shadow
   */
  crmV2?: { darkLaunch: boolean; canaryPercent: number };
  /**
   * The service sends the charge itself too (`startOrder`'s fast path: the same key and body, right after
   * the start), and that send ends by `sentUntil` (epoch ms). The charge step then counts it as maybe
   * applied from the start (see `StepOptions.sentElsewhereUntil`). @default only this workflow sends it
   */
  directCharge?: {
    sentUntil: number;
    /**
     * The service signals the end of its send (`directChargeEnded` or `directChargeSent`), so the charge
     * step sends its own request only then (or at `sentUntil`), not while the service's is in flight: no
     * workflow-side activity, provider request or CPU during the call the service waits on.
     * @default false: the step sends at once, alongside the service's send
     */
    endSignalled?: boolean;
  };
  /** How to wait for the invoice document. @default heartbeat polling, 10 minutes */
  invoice?: { mode: AwaitDocumentJobInput['mode']; within?: string; interval?: AwaitDocumentJobInput['interval'] };
}

/**
 * Fulfils an order: charge the payment (user flow, unknown outcomes reconciled) -> note it on the CRM
 * customer -> generate the invoice (two-step: trigger, then poll or webhook) -> email it (rate-limited)
 * -> mark the customer invoiced. A failure or a cancellation after the charge undoes what happened, newest
 * first: the CRM note is restored, the payment refunded; an undo that cannot complete parks. Any step
 * whose budget runs out parks for an operator. Each step is declared once: its endpoint says the rest.
 */
export async function fulfillOrder(input: FulfillOrderInput): Promise<OrderStatus> {
  const status: OrderStatus = { stage: 'charging' };
  let charge: ChargeOutcome | undefined;
  setHandler(orderStatus, () => status);
  // The fast path's own send of the charge applied nothing (it says so when it knows): see directCharge.
  let directChargeRefused = false;
  setHandler(directChargeEnded, () => {
    directChargeRefused = true;
  });
  // The fast path's send ended, whatever it did (see directCharge.endSignalled).
  let directChargeOver = false;
  let directChargeAnswer: Payment | undefined;
  setHandler(directChargeSent, ({ answered, payment }) => {
    directChargeOver = true;
    if (answered && payment) directChargeAnswer = payment;
  });
  // The user flow's answer: once the charge is settled, or as soon as it parks (then it is pending).
  setHandler(chargeSettled, async () => {
    // A cancelled order still answers: with the charge as it was settled before compensation.
    await CancellationScope.nonCancellable(() => condition(() => charge !== undefined || parkedStep() === 'charge'));
    return charge ?? { charged: false, pending: true, failure: 'the charge is parked for an operator' };
  });
  const saga = new Saga();
  // Every step may be compensated by an operator once there is something to undo.
  const step = <I extends object, O>(name: string, call: EndpointCall<I, O>, args: I, options: StepOptions = {}) =>
    runStep(name, call, args, { canCompensate: saga.size > 0, ...options });

  try {
    const body = { orderId: input.orderId, amount: input.amount, currency: input.currency };
    const sentElsewhereUntil = input.directCharge?.sentUntil;
    const sentElsewhereEnded = () => directChargeRefused;
    const sentElsewhereOver = input.directCharge?.endSignalled ? () => directChargeOver : undefined;
    const charged = await step(
      'charge',
      pay.createPayment,
      { body },
      {
        sentElsewhereUntil,
        sentElsewhereEnded,
        ...(sentElsewhereOver ? { sentElsewhereOver, sentElsewhereAnswer: () => directChargeAnswer } : {}),
      },
    );
    const payment = charged.value;
    status.paymentId = payment.id;
    charge = { charged: true, paymentId: payment.id };
    status.stage = 'charged';
    saga.add('charge', (o) =>
      runStep('refund', pay.refundPayment, { body: { paymentId: payment.id, amount: input.amount } }, undo(o)),
    );

    // Running executions started before the v2 rollout replay without it.
    const rollout = patched('crm-v2-rollout') ? input.crmV2 : undefined;
    const crmVersion = rollout ? chooseVersion(input.customerId, rollout.canaryPercent) : 'v1';
    const params = { id: input.customerId };
    // The shadow read starts with the real one, so both see the customer as it is before we write to it.
    const compareShadow =
      rollout?.darkLaunch && crmVersion === 'v1'
        ? shadow(
            'crm.getCustomer v2',
            () => customersV2.getCustomer({ params }, { summary: 'dark launch: CRM v2, compared, not used' }),
            {
              compare: customerFromV2,
              // Executions recorded before drift samples existed replay without the activity.
              onMismatch: async ({ primary, candidate, differences }) => {
                if (!patched('dark-launch-drift-samples')) return;
                await driftV2.recordDarkLaunchDrift({
                  candidate: { integration: crmV2.name, endpoint: 'getCustomer' },
                  primary: { integration: crm.name, endpoint: 'getCustomer' },
                  differences,
                  candidateAnswer: candidate,
                  primaryAnswer: primary,
                });
              },
            },
          )
        : undefined;
    // Fresh, not a cached fallback: the saga restores these notes if the order fails.
    const customer =
      crmVersion === 'v2'
        ? customerFromV2((await step('customer', customersV2.getCustomer, { params })).value)
        : (await step('customer', customers.getCustomer, { params, fresh: true })).value;
    compareShadow?.(customer);
    if (!customer)
      throw ApplicationFailure.nonRetryable(`customer ${input.customerId} not found in the CRM`, 'CustomerNotFound');
    const note = (name: string, notes: string, options?: StepOptions) =>
      step(`crm-${name}`, customers.updateCustomer, { params: { id: customer.id }, body: { notes } }, options);
    await note('pending', `order ${input.orderId}: invoice pending`);
    saga.add('crm-note', (o) => note('pending-undo', customer.notes ?? '', undo(o)));

    status.stage = 'invoicing';
    const job = (await step('invoice', docs.generate, { body: { template: 'invoice', data: body } })).value;
    const invoice = await executeChild(awaitDocumentJob, {
      workflowId: documentJobWorkflowId(job.jobId),
      args: [
        {
          jobId: job.jobId,
          mode: input.invoice?.mode ?? 'heartbeat',
          deadline: Date.now() + durationMs((input.invoice?.within ?? '10 minutes') as Duration),
          interval: input.invoice?.interval,
        },
      ],
    });
    if (invoice.status !== 'completed' || !invoice.documentUrl) {
      throw ApplicationFailure.nonRetryable(`invoice job ${job.jobId} failed at the provider`, 'InvoiceFailed');
    }
    status.invoiceUrl = invoice.documentUrl;

    status.stage = 'emailing';
    const message = {
      to: customer.email,
      subject: `Your invoice for order ${input.orderId}`,
      body: invoice.documentUrl,
    };
    await step('email-invoice', mail.send, { body: message });

    status.stage = 'completing';
    await note('invoiced', `order ${input.orderId}: invoiced`);
    status.stage = 'completed';
    await settleShadows();
    return closed(status);
  } catch (err) {
    const cancelled = isCancellation(err);
    const failure = cancelled ? 'Cancelled: the order was cancelled' : failureSummary(err);
    charge ??= { charged: false, failure };
    // An operator who chose "fail" decided not to compensate.
    if (err instanceof ApplicationFailure && err.type === 'OperatorFailed') throw err;
    log.warn('order failed; compensating what happened', { failure });
    status.failure = failure;
    if (cancelled) status.cancelled = true;
    status.stage = 'compensating';
    // Not cancellable: a cancelled order is compensated to the end.
    const report = await CancellationScope.nonCancellable(() => saga.compensate(failure));
    status.compensated = report.compensated;
    if (report.notCompensated.length > 0) status.notCompensated = report.notCompensated;
    status.stage =
      report.notCompensated.length > 0
        ? 'compensation-incomplete'
        : report.compensated.length > 0
          ? 'compensated'
          : 'failed';
    await settleShadows();
    return closed(status);
  }
}

/** Shows how the order ended in `WorkflowStage`, so compensated (or failed) orders can be listed. */
function closed(status: OrderStatus): OrderStatus {
  // Executions recorded before this upsert existed replay without it.
  if (patched('stage-on-close')) upsertSearchAttributes([{ key: WorkflowStage, value: status.stage }]);
  return status;
}

/** An undo is a step of its own: it gives up to the saga (which runs the other undos) instead of parking. */
function undo(options: StepOptions = {}): StepOptions {
  return { ...options, onGiveUp: 'throw' };
}

import type { Duration } from '@temporalio/common';
import { msToNumber } from '@temporalio/common/lib/time';
import { ApplicationFailure, condition, executeChild, log, patched, setHandler } from '@temporalio/workflow';
import { crmV2, customerFromV2 } from '../integrations/crm/crm-v2.integration';
import { crm, type Customer } from '../integrations/crm/crm.integration';
import { documents } from '../integrations/documents/documents.integration';
import { email } from '../integrations/email/email.integration';
import type { Integration } from '../integrations/kit/define';
import { payments } from '../integrations/payments/payments.integration';
import { awaitDocumentJob, type AwaitDocumentJobInput } from './await-document-job.workflow';
import { proxyIntegration, type CallOptions } from './integration-proxy';
import { stepKey } from './keys';
import { chargeSettled, documentJobWorkflowId, orderStatus, type ChargeOutcome, type OrderStatus } from './messages';
import { Saga } from './patterns/saga';
import { failureSummary, runStep } from './patterns/steps';
import { chooseVersion, settleShadows, shadow } from './patterns/versions';

const pay = proxyIntegration(payments);
const customers = proxyIntegration(crm);
const customersV2 = proxyIntegration(crmV2);
const docs = proxyIntegration(documents);
const mail = proxyIntegration(email);

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
  /** How to wait for the invoice document. @default heartbeat polling, 10 minutes */
  invoice?: { mode: AwaitDocumentJobInput['mode']; within?: string; interval?: AwaitDocumentJobInput['interval'] };
}

/**
 * Fulfils an order: charge the payment (user flow, unknown outcomes reconciled) -> note it on the CRM
 * customer -> generate the invoice (two-step: trigger, then poll or webhook) -> email it (rate-limited)
 * -> mark the customer invoiced. A failure after the charge undoes what happened, newest first: the CRM
 * note is restored, the payment refunded. Any step whose budget runs out parks for an operator.
 */
export async function fulfillOrder(input: FulfillOrderInput): Promise<OrderStatus> {
  const status: OrderStatus = { stage: 'charging' };
  let charge: ChargeOutcome | undefined;
  setHandler(orderStatus, () => status);
  setHandler(chargeSettled, async () => {
    await condition(() => charge !== undefined);
    return charge!;
  });
  const saga = new Saga();

  try {
    const payment = await runStep({
      step: 'charge',
      integration: 'payments',
      endpoint: 'createPayment',
      budget: payments.profileOf('createPayment').scheduleToClose,
      call: (o) =>
        pay.createPayment(
          { key: stepKey('charge'), body: { orderId: input.orderId, amount: input.amount, currency: input.currency } },
          o,
        ),
      reconcile: {
        lookup: (o) => pay.findPayment({ query: { correlationId: stepKey('charge') } }, o),
        keyRetention: retention(payments),
      },
      canCompensate: false,
    });
    status.paymentId = payment.value.id;
    charge = { charged: true, paymentId: payment.value.id };
    status.stage = 'charged';
    saga.add('charge', () =>
      runStep({
        step: 'refund',
        integration: 'payments',
        endpoint: 'refundPayment',
        budget: payments.profileOf('refundPayment').scheduleToClose,
        call: (o) =>
          pay.refundPayment({ key: stepKey('refund'), body: { paymentId: payment.value.id, amount: input.amount } }, o),
        reconcile: { keyRetention: retention(payments) },
        canCompensate: false,
      }),
    );

    // Running executions started before the v2 rollout replay without it.
    const rollout = patched('crm-v2-rollout') ? input.crmV2 : undefined;
    const crmVersion = rollout ? chooseVersion(input.customerId, rollout.canaryPercent) : 'v1';
    // Fresh, not a cached fallback: the saga restores these notes if the order fails.
    const readV1 = (o: CallOptions) => customers.getCustomer({ params: { id: input.customerId }, fresh: true }, o);
    const readV2 = (o: CallOptions) =>
      customersV2.getCustomer({ params: { id: input.customerId } }, o).then(customerFromV2);
    // The shadow read starts with the real one, so both see the customer as it is before we write to it.
    const compareShadow =
      rollout?.darkLaunch && crmVersion === 'v1'
        ? shadow('crm.getCustomer v2', () => readV2({ summary: 'dark launch: CRM v2, compared, not used' }))
        : undefined;
    const customer = await runStep({
      step: 'customer',
      integration: crmVersion === 'v2' ? 'crmv2' : 'crm',
      endpoint: 'getCustomer',
      budget: crm.profileOf('getCustomer').scheduleToClose,
      call: crmVersion === 'v2' ? readV2 : readV1,
      canCompensate: true,
    });
    compareShadow?.(customer.value);
    if (!customer.value)
      throw ApplicationFailure.nonRetryable(`customer ${input.customerId} not found in the CRM`, 'CustomerNotFound');
    await noteOnCustomer(customer.value, 'pending', `order ${input.orderId}: invoice pending`);
    saga.add('crm-note', () => noteOnCustomer(customer.value!, 'pending-undo', customer.value!.notes ?? ''));

    status.stage = 'invoicing';
    const job = await runStep({
      step: 'invoice',
      integration: 'documents',
      endpoint: 'generate',
      budget: documents.profileOf('generate').scheduleToClose,
      call: (o) =>
        docs.generate(
          {
            key: stepKey('invoice'),
            body: {
              template: 'invoice',
              data: { orderId: input.orderId, amount: input.amount, currency: input.currency },
            },
          },
          o,
        ),
      reconcile: { keyRetention: retention(documents) },
      canCompensate: true,
    });
    const invoice = await executeChild(awaitDocumentJob, {
      workflowId: documentJobWorkflowId(job.value.jobId),
      args: [
        {
          jobId: job.value.jobId,
          mode: input.invoice?.mode ?? 'heartbeat',
          deadline: Date.now() + msToNumber((input.invoice?.within ?? '10 minutes') as Duration),
          interval: input.invoice?.interval,
        },
      ],
    });
    if (invoice.status !== 'completed' || !invoice.documentUrl) {
      throw ApplicationFailure.nonRetryable(`invoice job ${job.value.jobId} failed at the provider`, 'InvoiceFailed');
    }
    status.invoiceUrl = invoice.documentUrl;

    status.stage = 'emailing';
    await runStep({
      step: 'email-invoice',
      integration: 'email',
      endpoint: 'send',
      budget: email.profileOf('send').scheduleToClose,
      call: (o) =>
        mail.send(
          {
            key: stepKey('email-invoice'),
            body: {
              to: customer.value!.email,
              subject: `Your invoice for order ${input.orderId}`,
              body: invoice.documentUrl!,
            },
          },
          o,
        ),
      reconcile: { keyRetention: retention(email) },
      canCompensate: true,
    });

    status.stage = 'completing';
    await noteOnCustomer(customer.value, 'invoiced', `order ${input.orderId}: invoiced`);
    status.stage = 'completed';
    await settleShadows();
    return status;
  } catch (err) {
    const failure = failureSummary(err);
    charge ??= { charged: false, failure };
    // An operator who chose "fail" decided not to compensate.
    if (err instanceof ApplicationFailure && err.type === 'OperatorFailed') throw err;
    log.warn('order failed; compensating what happened', { failure });
    status.failure = failure;
    status.stage = 'compensating';
    status.compensated = await saga.compensate(failure);
    status.stage = status.compensated.length > 0 ? 'compensated' : 'failed';
    await settleShadows();
    return status;
  }
}

/** How long a provider remembers idempotency keys: resends inside it cannot apply twice. */
function retention(integration: Integration): Duration | undefined {
  return integration.idempotency?.retention as Duration | undefined;
}

/** Writes a note on the customer, keyed by step, so a resend or a reset writes it once. */
function noteOnCustomer(customer: Customer, step: string, notes: string) {
  return runStep({
    step: `crm-${step}`,
    integration: 'crm',
    endpoint: 'updateCustomer',
    budget: crm.profileOf('updateCustomer').scheduleToClose,
    call: (o) =>
      customers.updateCustomer({ key: stepKey(`crm-${step}`), params: { id: customer.id }, body: { notes } }, o),
    reconcile: { keyRetention: retention(crm) },
    canCompensate: step !== 'pending-undo',
  });
}

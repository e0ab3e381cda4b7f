import { patched } from '@temporalio/workflow';
import type { Payment, PaymentRequest } from '../integrations/payments/payments.integration';
import { integrationViews } from '../integrations/manifest.generated';
import { proxyIntegration } from './integration-proxy';
import { stepKey } from './keys';
import { runStep } from './patterns/steps';

const provider = proxyIntegration(integrationViews.payments);

export type ChargePaymentInput = PaymentRequest;

/**
 * Charges one payment as a durable step: the key comes from the workflow ID, so every retry and reset
 * reuses it; an unknown outcome is looked up before anything else, and what cannot be settled parks.
 */
export async function chargePayment(input: ChargePaymentInput): Promise<Payment> {
  // Executions started before the step existed called the activity alone, and replay that way.
  if (!patched('charge-payment-as-step')) return provider.createPayment({ key: stepKey('charge'), body: input });
  return (await runStep('charge', provider.createPayment, { body: input })).value;
}

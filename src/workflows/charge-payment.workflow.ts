import type { Payment, PaymentRequest } from '../integrations/payments/payments.integration';
import { payments } from '../integrations/payments/payments.integration';
import { proxyIntegration } from './integration-proxy';
import { stepKey } from './keys';

const provider = proxyIntegration(payments);

export type ChargePaymentInput = PaymentRequest;

/** Charges one payment; the key comes from the workflow ID, so every retry and reset reuses it. */
export async function chargePayment(input: ChargePaymentInput): Promise<Payment> {
  return provider.createPayment({ key: stepKey('charge'), body: input });
}

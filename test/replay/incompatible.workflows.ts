// A deliberately incompatible version of chargePayment: it sleeps before charging. Replaying a history
// recorded by the real code against this one must fail with a DeterminismViolationError.
import { sleep } from '@temporalio/workflow';
import { payments, type Payment } from '../../src/integrations/payments/payments.integration';
import type { ChargePaymentInput } from '../../src/workflows/charge-payment.workflow';
import { proxyIntegration } from '../../src/workflows/integration-proxy';
import { stepKey } from '../../src/workflows/keys';

const provider = proxyIntegration(payments);

export async function chargePayment(input: ChargePaymentInput): Promise<Payment> {
  await sleep('1 second');
  return provider.createPayment({ key: stepKey('charge'), body: input });
}

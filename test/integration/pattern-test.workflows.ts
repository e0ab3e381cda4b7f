// Test-only workflows that exercise the patterns one at a time, against the real integration workers.
import type { Duration } from '@temporalio/common';
import { payments, type Payment } from '../../src/integrations/payments/payments.integration';
import { proxyIntegration } from '../../src/workflows/integration-proxy';
import { runStep, type StepResult } from '../../src/workflows/patterns/steps';

const pay = proxyIntegration(payments);

export interface ChargeStepInput {
  orderId: string;
  amount: number;
  /** The charge's clock-time budget. @default the userFlow profile's */
  budget?: Duration;
  /** Reconcile an unknown outcome with the findPayment lookup. */
  lookup: boolean;
  lookupInterval?: Duration;
  lookupBudget?: Duration;
}

/** One charge as a durable step: what runStep does with every outcome the sandbox can produce. */
export async function chargeStep(input: ChargeStepInput): Promise<StepResult<Payment>> {
  return runStep(
    'charge',
    pay.createPayment,
    { body: { orderId: input.orderId, amount: input.amount, currency: 'EUR' } },
    {
      budget: input.budget,
      lookup: { enabled: input.lookup, interval: input.lookupInterval, budget: input.lookupBudget },
      canCompensate: true,
    },
  );
}

/** A background read (findPayment): what a kill switch pauses and lifting it resumes. */
export async function backgroundLookup(correlationId: string): Promise<Payment | null> {
  return pay.findPayment({ query: { correlationId } });
}

// Minimal one-call workflows for bench/levers.ts: the same activity (one payments.createPayment through the
// project's call path) scheduled three ways. Benchmark code only; the order workflow is not changed.
import { proxyActivities, proxyLocalActivities, workflowInfo } from '@temporalio/workflow';

type Charge = (input: { key: string; body: unknown }) => Promise<unknown>;
const timeouts = { startToCloseTimeout: '10 seconds', retry: { maximumAttempts: 3 } } as const;
const body = { amount: 4200, currency: 'EUR', orderId: 'levers' };

/** A regular activity on another task queue (the project's layout: one queue per integration). */
export async function chargeOtherQueue(): Promise<unknown> {
  const { charge } = proxyActivities<{ charge: Charge }>({ ...timeouts, taskQueue: 'bench-levers-activities' });
  return charge({ key: workflowInfo().workflowId, body });
}

/** A regular activity on the workflow's own task queue. */
export async function chargeSameQueue(): Promise<unknown> {
  const { charge } = proxyActivities<{ charge: Charge }>(timeouts);
  return charge({ key: workflowInfo().workflowId, body });
}

/** A local activity: run by the workflow's worker, recorded in the same workflow task. */
export async function chargeLocal(): Promise<unknown> {
  const { charge } = proxyLocalActivities<{ charge: Charge }>(timeouts);
  return charge({ key: workflowInfo().workflowId, body });
}

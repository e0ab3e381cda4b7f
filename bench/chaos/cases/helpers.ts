import type { FaultRule } from '../../../src/sandbox/admin-client';
import type { CaseContext, OrderEvaluation, TrackedOrder } from '../types';
import { sleep } from '../wait';

/** Sandbox paths of the keyed writes (see src/sandbox/*.ts). */
export const paths = {
  charge: { method: 'POST', path: '/payments/payments' },
  refund: { method: 'POST', path: '/payments/refunds' },
  invoice: { method: 'POST', path: '/documents/generate' },
  email: { method: 'POST', path: '/email/send' },
  /** Every customer's PATCH; add `/<id>` for one customer's. */
  crm: { method: 'PATCH', path: '/crm/customers' },
} as const;

export type KeyedEndpoint = keyof typeof paths;

export function rule(endpoint: KeyedEndpoint, fault: string, extra: Partial<FaultRule> = {}): FaultRule {
  return { ...paths[endpoint], fault, ...extra };
}

/** The PATCH of one customer only, so concurrent orders on other customers are untouched. */
export function crmOf(customerId: string, fault: string, extra: Partial<FaultRule> = {}): FaultRule {
  return { method: 'PATCH', path: `/crm/customers/${customerId}`, exact: true, fault, ...extra };
}

/** Waits until the order's stage (query orderStatus) is one of `stages`. */
export function reachStage(ctx: CaseContext, order: TrackedOrder, stages: string[], capMs = 60_000): Promise<boolean> {
  return ctx.waitFor(
    `${order.workflowId} to reach ${stages.join('/')}`,
    async () => stages.includes((await ctx.stage(order)) ?? ''),
    capMs,
  );
}

export function reachParked(ctx: CaseContext, order: TrackedOrder, capMs = 60_000): Promise<boolean> {
  return ctx.waitFor(`${order.workflowId} to park`, () => ctx.isParked(order), capMs);
}

/** Requests cancellation, as a service whose customer gave up would (handle.cancel()). */
export async function cancel(ctx: CaseContext, order: TrackedOrder): Promise<void> {
  await ctx.stack.client.temporal.workflow
    .getHandle(order.workflowId)
    .cancel()
    .catch((err: unknown) => ctx.log(`cancel ${order.workflowId}: ${(err as Error).message}`));
}

/** Starts `count` orders spread over `windowMs` (so chaos lands on orders at every step). */
export async function startSpread(
  ctx: CaseContext,
  count: number,
  windowMs: number,
  options: Parameters<CaseContext['startOrder']>[0],
): Promise<TrackedOrder[]> {
  const orders: TrackedOrder[] = [];
  for (let i = 0; i < count; i++) {
    orders.push(ctx.startOrder(options));
    if (i < count - 1) await sleep(Math.round(windowMs / Math.max(1, count - 1)));
  }
  return orders;
}

const n = (e: OrderEvaluation, effect: keyof OrderEvaluation['effects']) => e.effects[effect] ?? 0;

/** The charge was refunded (the "other undo" of an order whose CRM restore cannot complete). */
export const refunded = (e: OrderEvaluation): string | undefined =>
  n(e, 'refund.created') >= 1 ? undefined : 'the refund was not done';

/** The CRM note was restored (the "other undo" of an order whose refund cannot complete). */
export const crmRestored = (e: OrderEvaluation): string | undefined =>
  n(e, 'customer.updated') >= 2 ? undefined : 'the CRM note was not restored';

/** Every answer the service got named the same payment. */
export const oneCharge = (e: OrderEvaluation): string | undefined => {
  const charged = new Set(e.answeredPayments);
  return charged.size > 1 ? `the answers named different payments: ${[...charged].join(', ')}` : undefined;
};

export function all(
  ...checks: ((e: OrderEvaluation) => string | undefined)[]
): (e: OrderEvaluation) => string | undefined {
  return (e) =>
    checks
      .map((c) => c(e))
      .filter(Boolean)
      .join('; ') || undefined;
}

import type { CaseContext, ChaosCase, OrderEvaluation, TrackedOrder } from '../types';
import { sleep } from '../wait';
import { rule, type KeyedEndpoint } from './helpers';

const endpoints: KeyedEndpoint[] = ['charge', 'refund', 'invoice', 'email', 'crm'];
type Poison = 'schema-violation' | 'malformed-json';

/**
 * An order's history when nothing goes wrong is under 100 events; a few bounded resends add tens. Past
 * this, a step resent into the poison without a bound (it would reach Temporal's history limit).
 */
const boundedHistory = 400;

const bounded = (e: OrderEvaluation): string | undefined =>
  (e.historyLength ?? 0) > boundedHistory
    ? `history grew to ${e.historyLength} events (bound ${boundedHistory}): resends without a bound`
    : undefined;

/**
 * Orders that reach the refund: a customer the CRM does not know makes the order fail right after the
 * charge, so the refund is its only undo.
 */
const refundPath = (ctx: CaseContext, label: string): TrackedOrder =>
  ctx.startOrder({
    label,
    customerId: `missing_${Math.floor(ctx.random() * 1e6)}`,
    expect: ['compensated', 'parked'],
    check: bounded,
  });

/**
 * Once: the first few requests to every keyed endpoint are applied, then answered with a body we cannot
 * read. All endpoints at once: every order meets some of them.
 */
async function once(ctx: CaseContext, poison: Poison, orders: number): Promise<void> {
  for (const endpoint of endpoints) {
    await ctx.stack.admin.fault(rule(endpoint, poison, { times: Math.max(1, Math.ceil(orders / 2)) }));
  }
  const started: TrackedOrder[] = [];
  for (let i = 0; i < orders; i++)
    started.push(ctx.startOrder({ label: `${poison} once on every keyed endpoint`, check: bounded }));
  for (let i = 0; i < Math.max(1, Math.floor(orders / 2)); i++) {
    started.push(refundPath(ctx, `${poison} once on every keyed endpoint (refund path)`));
  }
  await ctx.settle(started, 120_000);
  await ctx.stack.admin.clearFaults();
}

/**
 * Always: one endpoint answers every request with a poison body for `windowMs`, then recovers. A step
 * that keeps resending into it must stop (park) or at least keep its history bounded.
 */
async function always(ctx: CaseContext, endpoint: KeyedEndpoint, poison: Poison, orders: number, windowMs: number) {
  const { id } = await ctx.stack.admin.fault(rule(endpoint, poison));
  const label = `${poison} on every ${endpoint} request for ${windowMs / 1000} s`;
  const started: TrackedOrder[] = [];
  for (let i = 0; i < orders; i++) {
    started.push(endpoint === 'refund' ? refundPath(ctx, label) : ctx.startOrder({ label, check: bounded }));
  }
  await sleep(windowMs);
  await ctx.stack.admin.removeFault(id);
  await ctx.settle(started, 120_000);
}

/**
 * Poison answers on every keyed write (charge, refund, invoice generation, email send, CRM update):
 * the provider applies the request, then answers a 2xx with a body that fails the schema or is not JSON.
 * Expected: each ends with the effect found or settled once (or parked), with a bounded history.
 */
export const poisonAnswers: ChaosCase = {
  name: 'poison-answers',
  title: 'schema-violation / malformed-json answers on every keyed endpoint (once, and for a while)',
  async run(ctx) {
    const quick = ctx.scale === 'quick';
    const orders = quick ? 2 : 4;
    for (const poison of ['schema-violation', 'malformed-json'] as const) await once(ctx, poison, orders);
    // Quick: the one endpoint per poison most likely to loop; full: every endpoint with each poison.
    const plan: [KeyedEndpoint, Poison][] = quick
      ? [
          ['email', 'schema-violation'],
          ['crm', 'malformed-json'],
        ]
      : endpoints.flatMap((e) =>
          (['schema-violation', 'malformed-json'] as const).map((p): [KeyedEndpoint, Poison] => [e, p]),
        );
    for (const [endpoint, poison] of plan) await always(ctx, endpoint, poison, quick ? 1 : 2, quick ? 8_000 : 15_000);
  },
};

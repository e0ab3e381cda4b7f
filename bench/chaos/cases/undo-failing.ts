import type { FaultRule } from '../../../src/sandbox/admin-client';
import type { CaseContext, ChaosCase, Final, OrderEvaluation, TrackedOrder } from '../types';
import { all, crmOf, crmRestored, reachStage, refunded, rule } from './helpers';

/** The order fails after the charge: its invoice email is rejected (422), so its undos run. */
const emailRejected = rule('email', 'status', { params: { code: 422 } });

interface Variant {
  label: string;
  /** The fault that makes one undo fail; a function of the order's customer for the CRM restore. */
  fault: (customerId: string, orders: number) => FaultRule;
  /** Whether the fault is for one customer (added once that order's CRM note is written) or global. */
  perCustomer: boolean;
  expect: Final[];
  check: (e: OrderEvaluation) => string | undefined;
}

const variants: Variant[][] = [
  // Phase 1, concurrently: each order's CRM restore fails, through a rule on its own customer.
  [
    {
      label: 'CRM restore answers 404 (permanent)',
      fault: (c) => crmOf(c, 'status', { params: { code: 404 } }),
      perCustomer: true,
      // A 4xx undo that cannot complete parks, and the other undos are still done.
      expect: ['parked'],
      check: refunded,
    },
    {
      label: 'CRM restore answers 422 (permanent)',
      fault: (c) => crmOf(c, 'status', { params: { code: 422 } }),
      perCustomer: true,
      expect: ['parked'],
      check: refunded,
    },
    {
      label: 'CRM restore answers 503 three times',
      fault: (c) => crmOf(c, 'status', { params: { code: 503 }, times: 3 }),
      perCustomer: true,
      expect: ['compensated'],
      check: all(refunded, crmRestored),
    },
  ],
  // Phase 2: every refund refused (422): parks, with the CRM note restored.
  [
    {
      label: 'refund answers 422 (permanent)',
      fault: () => rule('refund', 'status', { params: { code: 422 } }),
      perCustomer: false,
      expect: ['parked'],
      check: crmRestored,
    },
  ],
  // Phase 3: refunds fail with 503 three times each, then succeed.
  [
    {
      label: 'refund answers 503 three times',
      fault: (_c, orders) => rule('refund', 'status', { params: { code: 503 }, times: 3 * orders }),
      perCustomer: false,
      expect: ['compensated'],
      check: all(refunded, crmRestored),
    },
  ],
];

async function runPhase(ctx: CaseContext, phase: Variant[], perVariant: number): Promise<void> {
  await ctx.stack.admin.clearFaults();
  await ctx.stack.admin.fault(emailRejected);
  // A slow invoice leaves time to arm a customer's fault between its CRM note and the failure.
  await ctx.stack.admin.config({ jobMs: 4_000 });
  for (const v of phase) if (!v.perCustomer) await ctx.stack.admin.fault(v.fault('', perVariant));
  const orders: TrackedOrder[] = [];
  const armed: Promise<void>[] = [];
  for (const v of phase) {
    for (let i = 0; i < perVariant; i++) {
      const customerId = ctx.customer();
      const order = ctx.startOrder({ label: v.label, customerId, expect: v.expect, check: v.check });
      orders.push(order);
      if (!v.perCustomer) continue;
      // The CRM note is written before the invoice: from then on, this customer's PATCHes fail.
      armed.push(
        reachStage(ctx, order, ['invoicing', 'emailing', 'compensating']).then(async (reached) => {
          if (!reached) ctx.log(`${order.workflowId} never got past its CRM note; its restore is not faulted`);
          else await ctx.stack.admin.fault(v.fault(customerId, perVariant));
        }),
      );
    }
  }
  await Promise.all(armed);
  await ctx.settle(orders);
}

/**
 * An order that fails after its charge (the invoice email is rejected), whose undos fail in turn: the
 * CRM restore refused (404, 422) or unavailable (503 a few times), the refund refused (422) or unavailable
 * (503 a few times). Expected: transient failures are retried through to compensated; an undo that cannot
 * complete parks for an operator, with the other undos still done.
 */
export const undoFailing: ChaosCase = {
  name: 'undo-failing',
  title: 'the order fails after the charge and an undo fails: CRM restore 404/422/503, refund 422/503',
  async run(ctx) {
    const perVariant = ctx.scale === 'quick' ? 1 : 3;
    for (const phase of variants) await runPhase(ctx, phase, perVariant);
  },
};

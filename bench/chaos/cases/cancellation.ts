import type { CaseContext, ChaosCase, TrackedOrder } from '../types';
import { cancel, reachParked, reachStage, rule } from './helpers';

interface Stage {
  label: string;
  /** Makes the stage last long enough to cancel in it (faults and knobs are global: one stage at a time). */
  arrange(ctx: CaseContext): Promise<void>;
  /** Resolves once the order is in the stage (false: it never got there). */
  reached(ctx: CaseContext, order: TrackedOrder): Promise<boolean>;
}

const stages: Stage[] = [
  {
    label: 'cancel while charging',
    // The charge request is answered after 1.5 s (inside the 2 s header timeout), and applied then.
    arrange: async (ctx) => void (await ctx.stack.admin.fault(rule('charge', 'latency', { params: { ms: 1_500 } }))),
    reached: (ctx, order) => reachStage(ctx, order, ['charging'], 20_000),
  },
  {
    label: 'cancel after the charge',
    // The CRM read that follows the charge takes 1.2 s: the charge is settled, nothing else done yet.
    arrange: (ctx) => ctx.stack.admin.config({ crm: { latencyMs: 1_200 } }),
    reached: async (_ctx, order) => (await order.firstAnswer).ok,
  },
  {
    label: 'cancel while invoicing',
    arrange: (ctx) => ctx.stack.admin.config({ jobMs: 8_000 }),
    reached: (ctx, order) => reachStage(ctx, order, ['invoicing']),
  },
  {
    label: 'cancel while emailing',
    arrange: async (ctx) => void (await ctx.stack.admin.fault(rule('email', 'latency', { params: { ms: 4_000 } }))),
    reached: (ctx, order) => reachStage(ctx, order, ['emailing']),
  },
  {
    label: 'cancel while parked',
    // Email credentials rejected: the send parks for an operator, who never comes; the service cancels.
    arrange: async (ctx) => void (await ctx.stack.admin.fault(rule('email', 'status', { params: { code: 401 } }))),
    reached: (ctx, order) => reachParked(ctx, order),
  },
];

/**
 * Orders cancelled (handle.cancel()) at each stage: while the charge is in flight, right after it, while
 * the invoice renders, while the email is being sent, and while parked. Expected: each ends compensated
 * (the charge refunded, the CRM note restored) or never charged; never charged-and-kept.
 */
export const cancellation: ChaosCase = {
  name: 'cancellation',
  title: 'cancel orders while charging, after the charge, invoicing, emailing and parked',
  async run(ctx) {
    const perStage = ctx.scale === 'quick' ? 1 : 3;
    for (const stage of stages) {
      await stage.arrange(ctx);
      const orders = Array.from({ length: perStage }, () =>
        ctx.startOrder({ label: stage.label, expect: ['compensated', 'failed-uncharged'] }),
      );
      await Promise.all(
        orders.map(async (order) => {
          if (!(await stage.reached(ctx, order))) {
            ctx.log(`${order.workflowId} never reached its stage (${stage.label}); cancelling anyway`);
          }
          await cancel(ctx, order);
        }),
      );
      // Faults and knobs are global: this stage's orders finish before the next stage changes them.
      await ctx.settle(orders, 90_000);
      await ctx.stack.admin.clearFaults();
      await ctx.stack.admin.config({ jobMs: 1_500, crm: { latencyMs: 0 } });
    }
  },
};

import type { CaseContext, ChaosCase, TrackedOrder } from '../types';
import { within } from '../wait';
import { oneCharge } from './helpers';

/** Waits until the order's latest run is closed (the first start's, or a repeat's). */
async function closed(ctx: CaseContext, order: TrackedOrder): Promise<boolean> {
  return ctx.waitFor(
    `${order.workflowId} to close`,
    async () => {
      const d = await ctx.stack.client.temporal.workflow.getHandle(order.workflowId).describe();
      return d.status.name !== 'RUNNING';
    },
    120_000,
  );
}

/**
 * The same order started more than once: twice concurrently (a double-clicked checkout); again once it
 * completed (a service retrying late); again once it completed and the provider has forgotten its
 * idempotency keys (`POST /admin/forget-keys`: the retention passed). Expected: one charge, one of each
 * effect, and every answer naming the same payment.
 */
export const repeatStarts: ChaosCase = {
  name: 'repeat-starts',
  title: 'startOrder twice concurrently; again after completion; again after completion and forget-keys',
  async run(ctx) {
    const per = ctx.scale === 'quick' ? 1 : 3;
    const expect = { expect: ['completed' as const], check: oneCharge };

    const concurrent = Array.from({ length: per }, () => ctx.startOrder({ label: 'started twice at once', ...expect }));
    for (const order of concurrent) void ctx.startAgain(order);
    const late = Array.from({ length: per }, () =>
      ctx.startOrder({ label: 'started again after completing', ...expect }),
    );
    await Promise.all(
      late.map(async (order) => {
        if (await closed(ctx, order)) await within(ctx.startAgain(order), 60_000, undefined);
      }),
    );
    await ctx.settle([...concurrent, ...late]);

    // The provider forgets every key at once: only this phase's orders may be in flight.
    const forgotten = Array.from({ length: per }, () =>
      ctx.startOrder({ label: 'started again after completing and forget-keys', ...expect }),
    );
    const done = await Promise.all(forgotten.map((order) => closed(ctx, order)));
    const { forgotten: keys } = await ctx.stack.admin.forgetKeys();
    ctx.log(`the sandbox forgot ${keys} idempotency keys`);
    await Promise.all(
      forgotten.map(async (order, i) => {
        if (done[i]) await within(ctx.startAgain(order), 60_000, undefined);
      }),
    );
  },
};

import type { ChaosCase, TrackedOrder } from '../types';
import { sleep } from '../wait';
import { rule } from './helpers';

/**
 * Budgets exhausted by hung writes: every attempt of the charge is applied and never answered (the
 * client's header timeout ends each), until the step's budget is spent. Then the same with the lookup
 * down for a while too (503 on GET /payments/payments), so reconciliation must wait for it.
 * Expected: each order reconciled (the charge found by lookup, once) and completed, or parked.
 *
 * Only the charge has a budget (10 s, user flow) short enough to exhaust here; the background writes'
 * budgets are an hour or more, which a chaos run cannot wait out.
 */
export const hungWrites: ChaosCase = {
  name: 'hung-writes',
  title: 'commit-then-hang on every charge attempt until the budget runs out (and the lookup down a while)',
  async run(ctx) {
    const per = ctx.scale === 'quick' ? 2 : 6;
    const expect = { expect: ['completed' as const, 'parked' as const] };

    await ctx.stack.admin.fault(rule('charge', 'commit-then-hang'));
    const hung: TrackedOrder[] = [];
    for (let i = 0; i < per; i++) hung.push(ctx.startOrder({ label: 'every charge attempt hangs', ...expect }));
    await ctx.settle(hung);
    // The hung attempts may have opened the payments breaker: the next phase starts from a closed one.
    await ctx.resetBreakers();

    const lookupDown = await ctx.stack.admin.fault({
      method: 'GET',
      path: '/payments/payments',
      fault: 'status',
      params: { code: 503 },
    });
    // Quick: one order, whose failures alone stay under the breaker's 10 (an open breaker is a 60 s cooldown).
    const downMs = ctx.scale === 'quick' ? 8_000 : 20_000;
    for (let i = 0; i < (ctx.scale === 'quick' ? 1 : per); i++) {
      ctx.startOrder({ label: `every charge attempt hangs, lookup down ${downMs / 1000} s`, ...expect });
    }
    await sleep(downMs);
    await ctx.stack.admin.removeFault(lookupDown.id);
  },
};

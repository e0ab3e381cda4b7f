import type { ChaosCase } from '../types';
import { rule } from './helpers';

/**
 * Many concurrent charges whose first attempt is applied at the provider but answered badly: a 504
 * after committing, a hang after committing (the client's header timeout), a reset after committing.
 * Enough of them to open the payments breaker while the others are still reconciling.
 * Expected: each charge found (or resent with its key) exactly once; no order keeps a charge it
 * reports as not made.
 */
export const unknownOutcome: ChaosCase = {
  name: 'unknown-outcome-concurrent',
  title: 'concurrent charges answered commit-then-504 / -hang / -reset; the breaker opens mid-recovery',
  async run(ctx) {
    const perKind = ctx.scale === 'quick' ? 5 : 10;
    // Rules apply in order, each `times` requests: resets first, then 504s, then hangs. Twice as many faulted
    // requests as orders, so retries fail too; the resets and 504s fail at once, so more than the breaker's
    // 10 consecutive failures land before any success: it opens while the orders are still reconciling.
    const times = 2 * perKind;
    await ctx.stack.admin.fault(rule('charge', 'commit-then-reset', { times }));
    await ctx.stack.admin.fault(rule('charge', 'commit-then-504', { params: { ms: 50 }, times }));
    await ctx.stack.admin.fault(rule('charge', 'commit-then-hang', { times }));
    for (let i = 0; i < perKind * 3; i++) ctx.startOrder({ label: 'charge answered 504/hang/reset after committing' });
  },
};

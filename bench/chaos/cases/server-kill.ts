import type { ChaosCase } from '../types';
import { sleep } from '../wait';
import { oneCharge, startSpread } from './helpers';

/**
 * The Temporal server `kill -9`ed mid-run, down 5-8 s, restarted on the same port and SQLite file;
 * workers keep running (their polls and completions fail meanwhile), and orders keep arriving (the
 * service retries startOrder while Temporal is unreachable). Some orders go through the fast path with the
 * order recorded first: their charge is answered while the server is down, and the record's relay starts
 * the workflow once it is back. Expected: every order completes, effects once.
 */
export const serverKill: ChaosCase = {
  name: 'server-kill',
  title: 'kill -9 the Temporal server mid-run, restart it on the same port and SQLite file',
  async run(ctx) {
    const orders = ctx.scale === 'quick' ? 6 : 24;
    await ctx.stack.admin.config({ jobMs: 3_000 });
    // A user-flow step whose budget the outage outlasts parks for an operator (clock time, not attempts).
    const starting = startSpread(ctx, orders, 12_000, {
      label: 'server killed meanwhile',
      expect: ['completed', 'parked'],
    });
    const recorded = startSpread(ctx, ctx.scale === 'quick' ? 2 : 8, 12_000, {
      label: 'server killed meanwhile, order recorded first',
      expect: ['completed', 'parked'],
      fast: 'recorded',
      check: oneCharge,
    });
    await sleep(ctx.between(3_000, 6_000));
    await ctx.stack.killServer();
    await sleep(ctx.between(5_000, 8_000));
    await ctx.stack.restartServer();
    await Promise.all([starting, recorded]);
  },
};

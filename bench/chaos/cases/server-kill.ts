import type { ChaosCase } from '../types';
import { sleep } from '../wait';
import { startSpread } from './helpers';

/**
 * The Temporal server `kill -9`ed mid-run, down 5-8 s, restarted on the same port and SQLite file;
 * workers keep running (their polls and completions fail meanwhile), and orders keep arriving (the
 * service retries startOrder while Temporal is unreachable). Expected: every order completes, effects once.
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
    await sleep(ctx.between(3_000, 6_000));
    await ctx.stack.killServer();
    await sleep(ctx.between(5_000, 8_000));
    await ctx.stack.restartServer();
    await starting;
  },
};

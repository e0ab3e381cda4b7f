import type { ChaosCase } from '../types';
import { sleep } from '../wait';
import { startSpread } from './helpers';

/**
 * Worker processes SIGKILLed at random moments while orders run: in-flight workflow tasks and activities
 * die with them (a charge may be applied with nobody to read the answer); a replacement starts at once.
 * Expected: every order completes, every effect once.
 */
export const workerSigkill: ChaosCase = {
  name: 'worker-sigkill',
  title: 'SIGKILL a worker process at random moments, start replacements',
  async run(ctx) {
    const orders = ctx.scale === 'quick' ? 6 : 24;
    const kills = ctx.scale === 'quick' ? 2 : 3;
    // Slow invoices keep orders in flight across the kills.
    await ctx.stack.admin.config({ jobMs: 3_000 });
    const window = kills * 5_000;
    const starting = startSpread(ctx, orders, window, { label: 'worker SIGKILLed meanwhile', expect: ['completed'] });
    for (let k = 1; k <= kills; k++) {
      await sleep(ctx.between(1_000, 4_000));
      const live = ctx.stack.liveWorkers();
      const victim = live[Math.floor(ctx.random() * live.length)];
      if (!victim) continue;
      const replacement = await ctx.stack.killWorker(victim, `chaos kill ${k}/${kills}`);
      await replacement.process.ready.catch(() => {});
    }
    await starting;
  },
};

import { bulkBatchWorkflowId } from '../../../src/contracts/bulk-lane';
import type { ChaosCase } from '../types';
import { sleep } from '../wait';

/**
 * The high-volume lane (`sendInBulk`) with worker processes SIGKILLed while its batches send: each kill
 * loses the batch activities in flight on that worker; their retries (after the heartbeat timeout) resend
 * only what the last heartbeat did not list, with the same keys. Expected: every batch completes, every
 * item charged exactly once at the provider (checked against the ledger here: the runner counts orders,
 * so a broken promise fails the case with what broke); no batch parks (the lookup settles every unknown
 * outcome; a parked batch fails the case). Full matrix only (it adds ~40 s).
 */
export const bulkLane: ChaosCase = {
  name: 'bulk-lane',
  title: 'bulk lane: SIGKILL workers mid-batch; every item charged once',
  quick: false,
  async run(ctx) {
    const items = ctx.scale === 'quick' ? 60 : 400;
    const batchSize = ctx.scale === 'quick' ? 30 : 100;
    const kills = ctx.scale === 'quick' ? 1 : 2;
    const batchId = `chaos-${Date.now().toString(36)}`;
    // Slow charges keep the batches sending across the kills.
    await ctx.stack.admin.fault({
      method: 'POST',
      path: '/payments/payments',
      exact: true,
      fault: 'latency',
      params: { ms: 150 },
    });
    const list = Array.from({ length: items }, (_, i) => ({
      key: `item-${i}`,
      body: { orderId: `${batchId}-${i}`, amount: 100 + (i % 50), currency: 'EUR' },
    }));
    const handle = await ctx.stack.client.sendInBulk({
      integration: 'payments',
      endpoint: 'createPayment',
      batchId,
      items: list,
      concurrency: 5,
      batchSize,
    });
    ctx.log(`  ${handle.workflowIds.length} batches of up to ${batchSize} items`);
    for (let k = 1; k <= kills; k++) {
      await sleep(ctx.between(1_000, 3_000));
      const live = ctx.stack.liveWorkers();
      const victim = live[Math.floor(ctx.random() * live.length)];
      if (!victim) continue;
      const replacement = await ctx.stack.killWorker(victim, `bulk lane kill ${k}/${kills}`);
      await replacement.process.ready.catch(() => {});
    }
    // A batch whose items stayed unknown parks for an operator (the lookup should settle every one here):
    // say so instead of waiting for a decision that never comes.
    let done = false;
    const parked = (async () => {
      while (!done) {
        await sleep(2_000);
        const states = await handle.status().catch(() => []);
        const stuck = states.filter((s) => s.state === 'parked');
        if (!done && stuck.length > 0)
          throw new Error(
            `bulk lane parked ${stuck.length} batch(es) with items of unknown outcome (${stuck.map((s) => s.summary?.unknown ?? 0).join(', ')}): the lookup did not settle them`,
          );
      }
    })();
    const summary = await Promise.race([handle.result(), parked.then(() => handle.result())]).finally(() => {
      done = true;
    });
    await ctx.stack.admin.clearFaults();
    const keyOf = (i: number) =>
      `${bulkBatchWorkflowId('payments', 'createPayment', batchId, Math.floor(i / batchSize))}:item-${i}`;
    const counts = new Map<string, number>();
    for (const e of await ctx.stack.admin.ledger())
      if (e.effect === 'payment.created' && e.idempotencyKey)
        counts.set(e.idempotencyKey, (counts.get(e.idempotencyKey) ?? 0) + 1);
    const missing = list.filter((_, i) => (counts.get(keyOf(i)) ?? 0) === 0).length;
    const duplicated = list.filter((_, i) => (counts.get(keyOf(i)) ?? 0) > 1).length;
    ctx.log(
      `  bulk lane: ${summary.succeeded}/${items} succeeded, ${summary.failed} failed, ${summary.unknown} unknown; ledger: ${missing} missing, ${duplicated} charged twice`,
    );
    if (summary.succeeded !== items || missing > 0 || duplicated > 0)
      throw new Error(
        `bulk lane broke its promise: ${summary.succeeded}/${items} succeeded, ${missing} items not charged, ${duplicated} charged more than once`,
      );
  },
};

import type { ChaosCase } from '../types';
import { sleep } from '../wait';
import type { OrderEvaluation } from '../types';
import { all, oneCharge, rule, startSpread } from './helpers';

/** The first answer came from `by` (a faulted fast-path send must leave the answer to the workflow). */
const answeredBy =
  (by: 'workflow' | 'direct call') =>
  (e: OrderEvaluation): string | undefined =>
    e.answers[0]?.includes(`[answered by ${by}]`) ? undefined : `first answer not by ${by}: ${e.answers[0]}`;

/**
 * startOrder's co-located fast path (`directCalls`: the workflow is started, then the service sends the
 * workflow's own charge request, same key) under the faults that make its answer unknown or wrong: the
 * service's send applied and answered commit-then-504 / -hang / -reset; a decline, permanent and once; a
 * worker SIGKILLed while fast-path orders run; the payments breaker open; the same order started twice at
 * once and again once done.
 * Expected: one charge per charged order (the service's send and the workflow's step are one), every
 * answer naming that payment, a declined order uncharged and told so.
 */
export const fastPath: ChaosCase = {
  name: 'fast-path',
  // The jest suite's quick matrix has no time left for it: `npm run chaos -- --quick --case fast-path`.
  quick: false,
  title:
    'startOrder with directCalls, starting first or recording first: charge commit-then-504/-hang/-reset, declines, worker SIGKILL, breaker open, repeats, service SIGKILL',
  async run(ctx) {
    const per = ctx.scale === 'quick' ? 2 : 5;
    const fast = { fast: true, check: oneCharge };

    // The service's own send is the first request of each order: the faults land on it, the workflow settles.
    // One order at a time, each fault for one request: it lands on the service's own send (the order's first
    // request), which the provider applied; the workflow's step settles it and answers.
    // At most 9 in a row: the service's engine has its own local breaker (10 consecutive failures), which would
    // hold its sends back for a minute (answered by the workflow: right, but the later phases would not test
    // the direct answer). unknown-outcome-concurrent opens the breaker on purpose.
    ctx.log('phase 1: the fast path send applied, then answered badly');
    for (const fault of ['commit-then-504', 'commit-then-hang', 'commit-then-reset'] as const) {
      for (let i = 0; i < Math.min(per, 3); i++) {
        await ctx.stack.admin.fault(
          rule('charge', fault, { times: 1, ...(fault === 'commit-then-504' ? { params: { ms: 50 } } : {}) }),
        );
        await ctx.startOrder({
          label: `fast path, charge ${fault}`,
          expect: ['completed'],
          ...fast,
          check: all(oneCharge, answeredBy('workflow')),
        }).firstAnswer;
        await ctx.stack.admin.clearFaults();
      }
    }

    ctx.log('phase 2: declines (permanent: uncharged; once: the workflow may still charge)');
    await ctx.stack.admin.fault(rule('charge', 'status', { params: { code: 402 } }));
    const declined = Array.from({ length: per }, () =>
      ctx.startOrder({
        label: 'fast path, charge declined',
        expect: ['failed-uncharged'],
        ...fast,
        check: all(oneCharge, answeredBy('workflow')),
      }),
    );
    await Promise.all(declined.map((o) => o.firstAnswer));
    await ctx.stack.admin.clearFaults();
    for (let i = 0; i < per; i++) {
      await ctx.stack.admin.fault(rule('charge', 'status', { params: { code: 402 }, times: 1 }));
      await ctx.startOrder({
        label: 'fast path, charge declined once',
        expect: ['completed', 'failed-uncharged'],
        ...fast,
        check: all(oneCharge, answeredBy('workflow')),
      }).firstAnswer;
      await ctx.stack.admin.clearFaults();
    }

    // Orders spread over 2 s, the kill somewhere inside: some workflows' own charge steps (the replay) and
    // first tasks die with the worker, after the service was told the direct answer.
    ctx.log('phase 3: a worker SIGKILLed while fast-path orders run');
    await ctx.stack.admin.config({ jobMs: 3_000 });
    const starting = startSpread(ctx, per * 2, 2_000, {
      label: 'fast path, worker SIGKILLed meanwhile',
      expect: ['completed'],
      ...fast,
      check: all(oneCharge, answeredBy('direct call')),
    });
    await sleep(ctx.between(300, 1_700));
    const live = ctx.stack.liveWorkers();
    const victim = live[Math.floor(ctx.random() * live.length)];
    if (victim) {
      const replacement = await ctx.stack.killWorker(victim, 'fast-path chaos kill');
      await replacement.process.ready.catch(() => {});
    }
    const running = await starting;
    await Promise.all(running.map((o) => o.firstAnswer));
    await ctx.stack.admin.config({ jobMs: 300 });

    ctx.log('phase 4: no fault; the same order started twice at once, and again once it completed');
    const twice = Array.from({ length: per }, () =>
      ctx.startOrder({
        label: 'fast path, started twice at once',
        expect: ['completed'],
        ...fast,
        check: all(oneCharge, answeredBy('direct call')),
      }),
    );
    for (const order of twice) void ctx.startAgain(order);
    await ctx.settle(twice);
    for (const order of twice) await ctx.startAgain(order);

    // The gate applies to the service's send as to the workers': nothing leaves while the breaker is open.
    // Last: just after the breaker closes again, some sends are still held back (answered by the workflow).
    ctx.log('phase 5: the payments breaker forced open');
    const control = ctx.stack.client.temporal.workflow.getHandle('control-payments');
    await control.executeUpdate('forceBreaker', { args: [{ mode: 'open', reason: 'chaos: fast path, breaker open' }] });
    await sleep(3_000); // every engine's cached control state (refreshed each second) has seen it
    const held = Array.from({ length: per }, () =>
      ctx.startOrder({
        label: 'fast path, payments breaker open',
        expect: ['failed-uncharged', 'parked'],
        ...fast,
        check: all(oneCharge, answeredBy('workflow')),
      }),
    );
    await Promise.all(held.map((o) => o.firstAnswer));
    await ctx.settle(held);
    await ctx.resetBreakers();

    // The service itself dies: a process of its own records and starts orders (the charge slowed to 800 ms,
    // so most are mid-send), SIGKILLed somewhere between before its first record and after its answers.
    // Callers retry half of the orders (through another service instance); the other half nobody asks
    // again: the record's relay must start each recorded one, and its step settles the charge.
    ctx.log('phase 6: the service SIGKILLed while its recorded orders are in flight');
    await ctx.stack.admin.fault(rule('charge', 'latency', { params: { ms: 800 } }));
    const killed = Array.from({ length: per * 2 }, (_, i) =>
      ctx.trackOrder({
        label: i % 2 === 0 ? 'fast path, service killed, caller retries' : 'fast path, service killed, caller gone',
        // Killed before its record committed, nobody asking again: the order never existed (nor any effect).
        expect: i % 2 === 0 ? ['completed'] : ['completed', 'not-started'],
        fast: 'recorded',
        check: oneCharge,
      }),
    );
    const service = ctx.stack.startService(killed.map((o) => o.input));
    await service.ready;
    // Half the time within its first 40 ms (records committed or not, starts not landed yet: the relay's to
    // start), else mid-send or after some answers.
    await sleep(ctx.random() < 0.5 ? ctx.between(0, 40) : ctx.between(100, 1_000));
    await service.kill();
    const told = ctx.stack.serviceAnswers();
    ctx.stack.note(`service SIGKILLed with ${told.size} of ${killed.length} orders answered`);
    for (const order of killed) {
      const answer = told.get(order.orderId);
      if (answer) order.answers.push({ ok: true, at: Date.now(), attempts: 1, ...answer } as (typeof order.answers)[0]);
    }
    await ctx.stack.admin.clearFaults();
    await Promise.all(killed.filter((_, i) => i % 2 === 0).map((o) => ctx.startAgain(o)));
    await ctx.settle(killed);
  },
};

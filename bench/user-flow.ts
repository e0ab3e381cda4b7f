/**
 * User flow: `node --import tsx bench/user-flow.ts` (`--quick`: 10 calls per cell).
 *
 * The service's wait for a settled charge, `IntegrationsClient.startOrder()` (update-with-start of
 * `fulfillOrder`, answered when the charge is settled), and the same with the co-located fast path
 * (`directCalls`: a plain start, then the workflow's own charge request sent from the client through the
 * workers' IntegrationEngine, same key; the workflow's step gets the provider's replay), and that with eager
 * workflow start (`requestEagerStart`, a client on the workers' connection), against the baseline: one direct
 * `undici.request` POST to the same sandbox endpoint (`/payments/payments`, bearer token fetched once, a
 * fresh correlation id each call). Provider latency 0 and 100 ms (the sandbox's `latency` fault on that
 * endpoint). Calls are sequential; cells interleaved (order/direct alternate) over 3 repetitions; the rest
 * of each order (CRM, invoice, email) runs on in the background, as it would in production.
 * Writes bench/results/user-flow.json, prints a table.
 */
import { request } from 'undici';
import { Client } from '@temporalio/client';
import { chargeRequest, IntegrationsClient } from '../src/client';
import { orderWorkflowId } from '../src/contracts/messages';
import { WORKFLOWS_TASK_QUEUE } from '../src/contracts/task-queues';
import { payments } from '../src/integrations/payments/payments.integration';
import { formatSpread, machine, percentile, round, spread, writeResult } from './support/report';
import { startBenchStack } from './support/stack';

const quick = process.argv.includes('--quick');
const calls = Number(process.env.BENCH_USER_FLOW_CALLS ?? (quick ? 10 : 30));
const repetitions = Number(process.env.BENCH_REPETITIONS ?? 3);
const latencies = [0, 100];

async function main(): Promise<void> {
  const started = machine();
  const stack = await startBenchStack();
  const run = Date.now().toString(36);
  // The fast path: a client with the co-located engine (this process's workers' own).
  const fastClient = await IntegrationsClient.connect({
    address: stack.devServer.address,
    dataConverter: null,
    security: null,
    directCalls: stack.engine,
  });
  try {
    const { SANDBOX_PAYMENTS_CLIENT_ID: id, SANDBOX_PAYMENTS_CLIENT_SECRET: secret } = stack.credentials.sandboxEnv;
    const tokenResponse = await request(`${stack.sandboxUrl}/payments/oauth/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'grant_type=client_credentials',
    });
    const { access_token: token } = (await tokenResponse.body.json()) as { access_token: string };
    let n = 0;
    const direct = async (): Promise<void> => {
      const response = await request(`${stack.sandboxUrl}/payments/payments`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          'x-correlation-id': `direct-${run}-${n++}`,
        },
        body: JSON.stringify({ amount: 4200, currency: 'EUR', orderId: `direct-${run}-${n}` }),
      });
      await response.body.json();
      if (response.statusCode !== 201 && response.statusCode !== 200) throw new Error(`direct: ${response.statusCode}`);
    };
    const order = async (client = stack.client): Promise<void> => {
      const orderId = `bench-${run}-${n++}`;
      const { charge } = await client.startOrder({
        orderId,
        customerId: 'cus_0031',
        amount: 4200,
        currency: 'EUR',
      });
      if (!charge.charged) throw new Error(`order ${orderId}: not charged: ${JSON.stringify(charge)}`);
    };
    // The eager-start lever on the fast path: the same start (conflict policy FAIL) and send as
    // startOrder with directCalls, the start from a client on the workers' own connection with
    // requestEagerStart (the first workflow task comes back with the start's answer, to this process's worker).
    const eagerClient = new Client({ connection: stack.connection });
    const eager = async (): Promise<void> => {
      const input = { orderId: `bench-${run}-${n++}`, customerId: 'cus_0031', amount: 4200, currency: 'EUR' };
      const workflowId = orderWorkflowId(input.orderId);
      await eagerClient.workflow.start('fulfillOrder', {
        taskQueue: WORKFLOWS_TASK_QUEUE,
        workflowId,
        args: [input],
        workflowIdConflictPolicy: 'FAIL',
        requestEagerStart: true,
      });
      await stack.engine.call(payments, 'createPayment', chargeRequest(workflowId, input), { attempt: 1, workflowId });
    };
    const variants = {
      startOrder: () => order(),
      'startOrder, direct calls': () => order(fastClient),
      'direct calls + eager start': eager,
      'direct undici.request': direct,
    };
    type Cell = { p50: number; p99: number };
    const cells = new Map<string, Cell[]>();
    // Warm-up: connections, tokens, the workflow cache.
    for (let i = 0; i < 3; i++)
      await order()
        .then(() => order(fastClient))
        .then(direct);
    for (let rep = 0; rep < repetitions; rep++) {
      for (const latency of latencies) {
        await stack.admin.clearFaults();
        if (latency > 0)
          await stack.admin.fault({
            method: 'POST',
            path: '/payments/payments',
            fault: 'latency',
            params: { ms: latency },
          });
        const names = Object.keys(variants) as (keyof typeof variants)[];
        // Rotated each repetition, so no variant always runs first (or right after another).
        const rotated = [...names.slice(rep % names.length), ...names.slice(0, rep % names.length)];
        for (const name of rep % 2 === 0 ? rotated : rotated.reverse()) {
          const times: number[] = [];
          for (let i = 0; i < calls; i++) {
            const t0 = performance.now();
            await variants[name]();
            times.push(performance.now() - t0);
          }
          const key = `${name}@${latency}`;
          cells.set(key, [...(cells.get(key) ?? []), { p50: percentile(times, 50), p99: percentile(times, 99) }]);
          process.stderr.write(`  rep ${rep + 1} ${key}: p50 ${round(percentile(times, 50))} ms\n`);
        }
      }
    }
    await stack.admin.clearFaults();
    const results = latencies.map((latency) => {
      const of = (name: string) => {
        const c = cells.get(`${name}@${latency}`)!;
        return { p50Ms: spread(c.map((x) => x.p50)), p99Ms: spread(c.map((x) => x.p99)) };
      };
      const project = of('startOrder');
      const fast = of('startOrder, direct calls');
      const baseline = of('direct undici.request');
      const eagerStart = of('direct calls + eager start');
      return {
        providerLatencyMs: latency,
        startOrder: project,
        startOrderDirectCalls: fast,
        directUndici: baseline,
        ratioP50: round(project.p50Ms.median / baseline.p50Ms.median),
        ratioP99: round(project.p99Ms.median / baseline.p99Ms.median),
        directCallsRatioP50: round(fast.p50Ms.median / baseline.p50Ms.median),
        directCallsRatioP99: round(fast.p99Ms.median / baseline.p99Ms.median),
        directCallsEagerStart: eagerStart,
        directCallsEagerStartRatioP50: round(eagerStart.p50Ms.median / baseline.p50Ms.median),
        directCallsEagerStartRatioP99: round(eagerStart.p99Ms.median / baseline.p99Ms.median),
      };
    });
    const file = writeResult('user-flow', started, {
      callsPerCell: calls,
      repetitions,
      method: 'sequential calls; p50/p99 per cell, spread over interleaved repetitions',
      goal: { ratioP50: 1.1, ratioP99: 1.25, atProviderLatencyMs: 100 },
      results,
    });
    console.log(
      `\nUser flow: startOrder until the charge is settled vs a direct undici.request (${calls} calls x ${repetitions} reps)`,
    );
    for (const r of results)
      console.log(
        [
          `  provider ${String(r.providerLatencyMs).padStart(3)} ms: direct p50 ${formatSpread(r.directUndici.p50Ms)} p99 ${formatSpread(r.directUndici.p99Ms)}`,
          `    startOrder p50 ${formatSpread(r.startOrder.p50Ms)} p99 ${formatSpread(r.startOrder.p99Ms)} | ${r.ratioP50}x / ${r.ratioP99}x`,
          `    startOrder, direct calls p50 ${formatSpread(r.startOrderDirectCalls.p50Ms)} p99 ${formatSpread(r.startOrderDirectCalls.p99Ms)} | ${r.directCallsRatioP50}x / ${r.directCallsRatioP99}x`,
          `    direct calls + eager start p50 ${formatSpread(r.directCallsEagerStart.p50Ms)} p99 ${formatSpread(r.directCallsEagerStart.p99Ms)} | ${r.directCallsEagerStartRatioP50}x / ${r.directCallsEagerStartRatioP99}x`,
        ].join('\n'),
      );
    console.log(`wrote ${file}`);
  } finally {
    await fastClient.close();
    await stack.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

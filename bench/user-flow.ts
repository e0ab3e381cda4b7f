/**
 * User flow: `node --import tsx bench/user-flow.ts` (`--quick`: 10 calls per cell;
 * `--deployment=separate|one-process|both`, default both).
 *
 * The service's wait for a settled charge, `IntegrationsClient.startOrder()` (update-with-start of
 * `fulfillOrder`, answered when the charge is settled), and the same with the fast path (`directCalls`: a
 * plain start, then the workflow's own charge request sent from the service through an IntegrationEngine,
 * same key; the workflow's step gets the provider's replay), against the baseline: one direct
 * `undici.request` POST to the same sandbox endpoint (`/payments/payments`, bearer token fetched once, a
 * fresh correlation id each call). Provider latency 0 and 100 ms (the sandbox's `latency` fault on that
 * endpoint). Calls are sequential; cells interleaved (variants rotated) over 3 repetitions; the rest of each
 * order (CRM, invoice, email) runs on in the background, as it would in production.
 *
 * Two deployments, one after the other, each against its own baseline:
 * - `separate processes` (bench/support/split-stack.ts), as production runs it: the sandbox and the workers
 *   (src/workers/main.ts) are child processes; this process is only the service, with its OWN engine for
 *   `directCalls`. Eager start needs the worker in the starting process: not measurable here.
 * - `one process` (bench/support/stack.ts): sandbox, workers and client on one event loop (the co-located
 *   engine is the workers' own), plus the eager-start variant (a client on the workers' connection).
 *
 * Each cell also records where the time goes: this process's event-loop delay (monitorEventLoopDelay, 1 ms
 * resolution) and CPU per call, the worker processes' event-loop delay (their /metrics), and for the fast
 * path the start's round trip (until the engine is called) against the send (the engine's call).
 * `BENCH_USER_FLOW_LATENCIES=100` measures only that provider latency (default `0,100`).
 * Writes bench/results/user-flow.json, prints a table.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { request } from 'undici';
import { Client } from '@temporalio/client';
import { chargeRequest, IntegrationsClient } from '../src/client';
import { OrderIntents } from '../src/client/order-intents';
import { createLogger } from '../src/observability/logger';
import { orderWorkflowId } from '../src/contracts/messages';
import { WORKFLOWS_TASK_QUEUE } from '../src/contracts/task-queues';
import { payments } from '../src/integrations/payments/payments.integration';
import type { IntegrationEngine } from '../src/integrations/runtime/engine';
import type { SandboxAdminClient } from '../src/sandbox/admin-client';
import { formatSpread, machine, percentile, round, spread, type Spread, writeResult } from './support/report';
import { dropBenchTable, ensureBenchDatabase } from './support/database';
import { startSplitStack } from './support/split-stack';
import { startBenchStack } from './support/stack';

const quick = process.argv.includes('--quick');
const calls = Number(process.env.BENCH_USER_FLOW_CALLS ?? (quick ? 10 : 30));
const repetitions = Number(process.env.BENCH_REPETITIONS ?? 3);
const deploymentArg = process.argv.find((a) => a.startsWith('--deployment='))?.split('=')[1] ?? 'both';
const latencies = (process.env.BENCH_USER_FLOW_LATENCIES ?? '0,100').split(',').map(Number);

type DeploymentName = 'separate processes' | 'one process';
const atOnce = 'direct calls, step sends at once (before)';
const recorded = 'startOrder, direct calls + order record';
/** The order record's store (`orderIntents`): the bench's own database, its own table (dropped after). */
const intentsDatabase = 'di_bench_intents';

/** The fast path's engine calls, timed: when the start was answered (the call begins) and the send's end. */
class TimedEngine {
  marks: { calledAt: number; endedAt: number }[] = [];
  wrap(engine: IntegrationEngine): IntegrationEngine {
    const wrapped = Object.create(engine) as IntegrationEngine;
    wrapped.call = async (...args: Parameters<IntegrationEngine['call']>) => {
      const calledAt = performance.now();
      try {
        return await engine.call(...args);
      } finally {
        this.marks.push({ calledAt, endedAt: performance.now() });
      }
    };
    return wrapped;
  }
}

interface Deployment {
  name: DeploymentName;
  sandboxUrl: string;
  admin: SandboxAdminClient;
  sandboxEnv: { SANDBOX_PAYMENTS_CLIENT_ID: string; SANDBOX_PAYMENTS_CLIENT_SECRET: string };
  variants: Record<string, (orderId: string) => Promise<void>>;
  timed: TimedEngine;
  /** The worker processes' event-loop delay since the last read (ms), when they are processes of their own. */
  workerLag?: () => Promise<{ p50: number; p99: number; max: number }>;
  stop(): Promise<void>;
}

/**
 * The fast path as it was before its charge step waited for the service's send (bench-only, for the
 * before/after): the same start (conflict policy FAIL) and send as startOrder with directCalls, but the order
 * is not told the service signals the end of its send, so the step sends its own request at once, alongside.
 */
const sendsAtOnce =
  (client: IntegrationsClient, engine: IntegrationEngine) =>
  async (orderId: string): Promise<void> => {
    const input = { orderId, customerId: 'cus_0031', amount: 4200, currency: 'EUR' };
    const workflowId = orderWorkflowId(orderId);
    await client.temporal.workflow.start('fulfillOrder', {
      taskQueue: WORKFLOWS_TASK_QUEUE,
      workflowId,
      args: [{ ...input, directCharge: { sentUntil: Date.now() + 5_000 } }],
      workflowIdConflictPolicy: 'FAIL',
    });
    await engine.call(payments, 'createPayment', chargeRequest(workflowId, input), { attempt: 1, workflowId });
  };

const order = async (client: IntegrationsClient, orderId: string): Promise<void> => {
  const { charge } = await client.startOrder({ orderId, customerId: 'cus_0031', amount: 4200, currency: 'EUR' });
  if (!charge.charged) throw new Error(`order ${orderId}: not charged: ${JSON.stringify(charge)}`);
};

async function separateProcesses(dir: string, intents: { url: string; table: string }): Promise<Deployment> {
  const timed = new TimedEngine();
  const stack = await startSplitStack({ dir, wrapEngine: (e) => timed.wrap(e), orderIntents: intents });
  const gauge = async (url: string) => {
    const text = await (await request(`${url}/metrics`)).body.text();
    const read = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN) * 1000;
    return {
      p50: read('nodejs_eventloop_lag_p50_seconds'),
      p99: read('nodejs_eventloop_lag_p99_seconds'),
      max: read('nodejs_eventloop_lag_max_seconds'),
    };
  };
  return {
    name: 'separate processes',
    sandboxUrl: stack.sandboxUrl,
    admin: stack.admin,
    sandboxEnv: stack.credentials.sandboxEnv,
    timed,
    variants: {
      startOrder: (id) => order(stack.client, id),
      'startOrder, direct calls': (id) => order(stack.fastClient, id),
      [recorded]: (id) => order(stack.recordedClient!, id),
      [atOnce]: sendsAtOnce(stack.client, timed.wrap(stack.engine)),
    },
    // One worker process by default: its figures.
    workerLag: () => gauge(stack.workerOps[0]!),
    stop: () => stack.stop(),
  };
}

async function oneProcess(intents: { url: string; table: string }): Promise<Deployment> {
  const timed = new TimedEngine();
  const stack = await startBenchStack();
  // The co-located fast path: a client with this process's workers' own engine.
  const fastClient = await IntegrationsClient.connect({
    address: stack.devServer.address,
    dataConverter: null,
    security: null,
    directCalls: timed.wrap(stack.engine),
  });
  const recordedClient = await IntegrationsClient.connect({
    address: stack.devServer.address,
    dataConverter: null,
    security: null,
    directCalls: timed.wrap(stack.engine),
    orderIntents: new OrderIntents({ ...intents, logger: createLogger({ name: 'bench-intents', level: 'warn' }) }),
  });
  // The eager-start lever on the fast path: the same start (conflict policy FAIL) and send as startOrder
  // with directCalls, the start from a client on the workers' own connection with requestEagerStart (the
  // first workflow task comes back with the start's answer, to this process's worker).
  const eagerClient = new Client({ connection: stack.connection });
  const eager = async (orderId: string): Promise<void> => {
    const input = { orderId, customerId: 'cus_0031', amount: 4200, currency: 'EUR' };
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
  return {
    name: 'one process',
    sandboxUrl: stack.sandboxUrl,
    admin: stack.admin,
    sandboxEnv: stack.credentials.sandboxEnv,
    timed,
    variants: {
      startOrder: (id) => order(stack.client, id),
      'startOrder, direct calls': (id) => order(fastClient, id),
      [recorded]: (id) => order(recordedClient, id),
      [atOnce]: sendsAtOnce(stack.client, timed.wrap(stack.engine)),
      'direct calls + eager start': eager,
    },
    stop: async () => {
      await fastClient.close();
      await recordedClient.close();
      await stack.stop();
    },
  };
}

interface CellFigures {
  p50: number;
  p99: number;
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  cpuMsPerCall: number;
  workerLoopDelayP99Ms?: number;
  workerLoopDelayMaxMs?: number;
  startMsP50?: number;
  startMsP99?: number;
  sendMsP50?: number;
  sendMsP99?: number;
}

async function measure(deployment: Deployment, run: string) {
  const { SANDBOX_PAYMENTS_CLIENT_ID: id, SANDBOX_PAYMENTS_CLIENT_SECRET: secret } = deployment.sandboxEnv;
  const tokenResponse = await request(`${deployment.sandboxUrl}/payments/oauth/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: 'grant_type=client_credentials',
  });
  const { access_token: token } = (await tokenResponse.body.json()) as { access_token: string };
  const direct = async (n: string): Promise<void> => {
    const response = await request(`${deployment.sandboxUrl}/payments/payments`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'x-correlation-id': n },
      body: JSON.stringify({ amount: 4200, currency: 'EUR', orderId: n }),
    });
    await response.body.json();
    if (response.statusCode !== 201 && response.statusCode !== 200) throw new Error(`direct: ${response.statusCode}`);
  };
  const variants: Record<string, (orderId: string) => Promise<void>> = {
    ...deployment.variants,
    'direct undici.request': direct,
  };
  let n = 0;
  const nextId = () => `bench-${run}-${deployment.name === 'one process' ? 'p' : 's'}-${n++}`;
  // Warm-up: connections, tokens, the workflow cache.
  for (let i = 0; i < 3; i++) for (const v of Object.values(variants)) await v(nextId());
  const cells = new Map<string, CellFigures[]>();
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  for (let rep = 0; rep < repetitions; rep++) {
    for (const latency of latencies) {
      await deployment.admin.clearFaults();
      if (latency > 0)
        await deployment.admin.fault({
          method: 'POST',
          path: '/payments/payments',
          fault: 'latency',
          params: { ms: latency },
        });
      const names = Object.keys(variants);
      // Rotated each repetition, so no variant always runs first (or right after another).
      const rotated = [...names.slice(rep % names.length), ...names.slice(0, rep % names.length)];
      for (const name of rep % 2 === 0 ? rotated : rotated.reverse()) {
        const times: number[] = [];
        const starts: number[] = [];
        const sends: number[] = [];
        await deployment.workerLag?.();
        loop.reset();
        const cpu0 = process.cpuUsage();
        for (let i = 0; i < calls; i++) {
          deployment.timed.marks = [];
          const t0 = performance.now();
          await variants[name]!(nextId());
          times.push(performance.now() - t0);
          const mark = deployment.timed.marks[0];
          if (mark && name !== 'startOrder') {
            starts.push(mark.calledAt - t0);
            sends.push(mark.endedAt - mark.calledAt);
          }
        }
        const cpu = process.cpuUsage(cpu0);
        const worker = await deployment.workerLag?.();
        const figures: CellFigures = {
          p50: percentile(times, 50),
          p99: percentile(times, 99),
          loopDelayP99Ms: loop.percentile(99) / 1e6,
          loopDelayMaxMs: loop.max / 1e6,
          cpuMsPerCall: (cpu.user + cpu.system) / 1000 / calls,
          ...(worker ? { workerLoopDelayP99Ms: worker.p99, workerLoopDelayMaxMs: worker.max } : {}),
          ...(starts.length
            ? {
                startMsP50: percentile(starts, 50),
                startMsP99: percentile(starts, 99),
                sendMsP50: percentile(sends, 50),
                sendMsP99: percentile(sends, 99),
              }
            : {}),
        };
        const key = `${name}@${latency}`;
        cells.set(key, [...(cells.get(key) ?? []), figures]);
        process.stderr.write(
          `  ${deployment.name} rep ${rep + 1} ${key}: p50 ${round(figures.p50)} p99 ${round(figures.p99)} ms; loop delay p99 ${round(figures.loopDelayP99Ms)} ms` +
            (figures.workerLoopDelayP99Ms !== undefined ? `, worker ${round(figures.workerLoopDelayP99Ms)} ms` : '') +
            (figures.startMsP50 !== undefined
              ? `; start p50 ${round(figures.startMsP50)} / send p50 ${round(figures.sendMsP50!)}`
              : '') +
            '\n',
        );
      }
    }
  }
  loop.disable();
  await deployment.admin.clearFaults();
  const spreadOf = (c: CellFigures[], k: keyof CellFigures): Spread | undefined =>
    c[0]?.[k] === undefined ? undefined : spread(c.map((x) => x[k] as number));
  return latencies.map((latency) => {
    const of = (name: string) => {
      const c = cells.get(`${name}@${latency}`);
      if (!c) return undefined;
      const profile = Object.fromEntries(
        (
          [
            'loopDelayP99Ms',
            'loopDelayMaxMs',
            'cpuMsPerCall',
            'workerLoopDelayP99Ms',
            'workerLoopDelayMaxMs',
            'startMsP50',
            'startMsP99',
            'sendMsP50',
            'sendMsP99',
          ] as const
        )
          .map((k) => [k, spreadOf(c, k)] as const)
          .filter(([, v]) => v !== undefined),
      );
      return { p50Ms: spread(c.map((x) => x.p50)), p99Ms: spread(c.map((x) => x.p99)), profile };
    };
    const project = of('startOrder')!;
    const fast = of('startOrder, direct calls')!;
    const withRecord = of(recorded)!;
    const baseline = of('direct undici.request')!;
    const eagerStart = of('direct calls + eager start');
    const before = of(atOnce)!;
    const ratio = (a: Spread, b: Spread) => round(a.median / b.median);
    return {
      deployment: deployment.name,
      providerLatencyMs: latency,
      startOrder: project,
      startOrderDirectCalls: fast,
      directUndici: baseline,
      ratioP50: ratio(project.p50Ms, baseline.p50Ms),
      ratioP99: ratio(project.p99Ms, baseline.p99Ms),
      directCallsRatioP50: ratio(fast.p50Ms, baseline.p50Ms),
      directCallsRatioP99: ratio(fast.p99Ms, baseline.p99Ms),
      directCallsOrderRecord: withRecord,
      directCallsOrderRecordRatioP50: ratio(withRecord.p50Ms, baseline.p50Ms),
      directCallsOrderRecordRatioP99: ratio(withRecord.p99Ms, baseline.p99Ms),
      directCallsStepSendsAtOnce: before,
      directCallsStepSendsAtOnceRatioP50: ratio(before.p50Ms, baseline.p50Ms),
      directCallsStepSendsAtOnceRatioP99: ratio(before.p99Ms, baseline.p99Ms),
      ...(eagerStart
        ? {
            directCallsEagerStart: eagerStart,
            directCallsEagerStartRatioP50: ratio(eagerStart.p50Ms, baseline.p50Ms),
            directCallsEagerStartRatioP99: ratio(eagerStart.p99Ms, baseline.p99Ms),
          }
        : {}),
    };
  });
}

async function main(): Promise<void> {
  const started = machine();
  const run = Date.now().toString(36);
  const dir = join('.tmp', `bench-user-flow-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  const chosen: (() => Promise<Deployment>)[] = [];
  const intents = { url: await ensureBenchDatabase(intentsDatabase), table: `order_intents_${run}` };
  if (deploymentArg !== 'one-process') chosen.push(() => separateProcesses(dir, intents));
  if (deploymentArg !== 'separate') chosen.push(() => oneProcess(intents));
  const results: Awaited<ReturnType<typeof measure>> = [];
  for (const start of chosen) {
    const deployment = await start();
    try {
      results.push(...(await measure(deployment, run)));
    } finally {
      await deployment.stop();
    }
  }
  await dropBenchTable(intents.url, intents.table);
  const file = writeResult('user-flow', started, {
    callsPerCell: calls,
    repetitions,
    method:
      'sequential calls; p50/p99 per cell, spread over interleaved repetitions; each deployment against its own baseline',
    goal: { ratioP50: 1.1, ratioP99: 1.25, atProviderLatencyMs: 100 },
    results,
  });
  console.log(
    `\nUser flow: startOrder until the charge is settled vs a direct undici.request (${calls} calls x ${repetitions} reps)`,
  );
  for (const r of results) {
    const p = r.startOrderDirectCalls.profile;
    console.log(
      [
        `  ${r.deployment}, provider ${String(r.providerLatencyMs).padStart(3)} ms: direct p50 ${formatSpread(r.directUndici.p50Ms)} p99 ${formatSpread(r.directUndici.p99Ms)}`,
        `    startOrder p50 ${formatSpread(r.startOrder.p50Ms)} p99 ${formatSpread(r.startOrder.p99Ms)} | ${r.ratioP50}x / ${r.ratioP99}x`,
        `    startOrder, direct calls p50 ${formatSpread(r.startOrderDirectCalls.p50Ms)} p99 ${formatSpread(r.startOrderDirectCalls.p99Ms)} | ${r.directCallsRatioP50}x / ${r.directCallsRatioP99}x`,
        `      start p50 ${p.startMsP50?.median} p99 ${p.startMsP99?.median} ms, send p50 ${p.sendMsP50?.median} p99 ${p.sendMsP99?.median} ms; service loop delay p99 ${p.loopDelayP99Ms?.median} ms (direct: ${r.directUndici.profile.loopDelayP99Ms?.median})` +
          (p.workerLoopDelayP99Ms ? `; worker loop delay p99 ${p.workerLoopDelayP99Ms.median} ms` : ''),
        `    ${recorded} p50 ${formatSpread(r.directCallsOrderRecord.p50Ms)} p99 ${formatSpread(r.directCallsOrderRecord.p99Ms)} | ${r.directCallsOrderRecordRatioP50}x / ${r.directCallsOrderRecordRatioP99}x; record (before the send) p50 ${r.directCallsOrderRecord.profile.startMsP50?.median} ms`,
        `    ${atOnce} p50 ${formatSpread(r.directCallsStepSendsAtOnce.p50Ms)} p99 ${formatSpread(r.directCallsStepSendsAtOnce.p99Ms)} | ${r.directCallsStepSendsAtOnceRatioP50}x / ${r.directCallsStepSendsAtOnceRatioP99}x; worker loop delay p99 ${r.directCallsStepSendsAtOnce.profile.workerLoopDelayP99Ms?.median ?? '-'} ms`,
        ...(r.directCallsEagerStart
          ? [
              `    direct calls + eager start p50 ${formatSpread(r.directCallsEagerStart.p50Ms)} p99 ${formatSpread(r.directCallsEagerStart.p99Ms)} | ${r.directCallsEagerStartRatioP50}x / ${r.directCallsEagerStartRatioP99}x`,
            ]
          : []),
      ].join('\n'),
    );
  }
  console.log(`wrote ${file}; logs of the separate processes in ${dir}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

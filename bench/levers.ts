/**
 * The user-flow levers of issue 12, on a minimal one-call workflow: `node --import tsx bench/levers.ts`
 * (`--quick`: 10 calls per cell). Each call is `client.workflow.execute` of a workflow whose one activity is
 * `payments.createPayment` through the project's call path (IntegrationEngine.call) on the sandbox, at 0
 * and 100 ms provider latency. Baseline: the same activity function called in process (no Temporal). Variants: activity on another queue, on the same queue, local activity,
 * local activity with eager workflow start (`requestEagerStart`, client on the worker's NativeConnection).
 * Sequential calls, variants interleaved over 3 repetitions. Writes bench/results/levers.json.
 */
import { Client } from '@temporalio/client';
import { NativeConnection, Worker, bundleWorkflowCode } from '@temporalio/worker';
import { devCredentials } from '../src/devserver/dev-credentials';
import { startDevServer } from '../src/devserver/dev-server';
import { payments } from '../src/integrations/payments/payments.integration';
import { IntegrationEngine } from '../src/integrations/runtime/engine';
import { createLogger } from '../src/observability/logger';
import { SandboxAdminClient } from '../src/sandbox/admin-client';
import { startSandbox } from '../src/sandbox/server';
import { installTemporalRuntime } from '../src/workers/runtime';
import { quietBundlerLogger } from '../test/support/stack';
import { formatSpread, machine, percentile, round, spread, writeResult } from './support/report';
import { sandboxCredentialsOf } from '../src/sandbox/credentials';

const quick = process.argv.includes('--quick');
const calls = Number(process.env.BENCH_LEVERS_CALLS ?? (quick ? 10 : 25));
const repetitions = Number(process.env.BENCH_REPETITIONS ?? 3);
const latencies = [0, 100];

async function main(): Promise<void> {
  const started = machine();
  const logger = createLogger({ name: 'bench', level: 'error' });
  installTemporalRuntime(logger);
  const credentials = devCredentials();
  const sandbox = await startSandbox({
    credentials: sandboxCredentialsOf((variable) => credentials.sandboxEnv[variable]),
  });
  const admin = new SandboxAdminClient(sandbox.url);
  const env = { ...process.env, NODE_ENV: 'development', ...credentials.integrationEnv(sandbox.url) };
  const engine = new IntegrationEngine({ logger, env });
  const charge = (input: { key: string; body: unknown }) =>
    engine.call(payments, 'createPayment', { key: input.key, body: input.body }, { attempt: 1 });
  const devServer = await startDevServer();
  const connection = await NativeConnection.connect({ address: devServer.address });
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('./workflows/levers.workflows'),
    logger: quietBundlerLogger,
  });
  const workers = await Promise.all([
    Worker.create({
      connection,
      taskQueue: 'bench-levers',
      workflowBundle: { code },
      activities: { charge },
      shutdownGraceTime: '1 second',
    }),
    Worker.create({
      connection,
      taskQueue: 'bench-levers-activities',
      activities: { charge },
      shutdownGraceTime: '1 second',
    }),
  ]);
  const running = Promise.all(workers.map((w) => w.run()));
  // Eager start needs the client on the worker's own connection.
  const client = new Client({ connection });
  const run = Date.now().toString(36);
  let n = 0;
  const execute =
    (workflow: string, eager = false) =>
    async () => {
      await client.workflow.execute(workflow, {
        taskQueue: 'bench-levers',
        workflowId: `levers-${run}-${n++}`,
        requestEagerStart: eager,
      });
    };
  const variants: Record<string, () => Promise<void>> = {
    'in-process call (no Temporal)': async () => {
      await charge({ key: `levers-direct-${run}-${n++}`, body: { amount: 4200, currency: 'EUR', orderId: 'levers' } });
    },
    'activity, other queue': execute('chargeOtherQueue'),
    'activity, same queue': execute('chargeSameQueue'),
    'local activity': execute('chargeLocal'),
    'local activity + eager start': execute('chargeLocal', true),
  };
  const names = Object.keys(variants);
  const cells = new Map<string, { p50: number; p99: number }[]>();
  try {
    for (const name of names) for (let i = 0; i < 3; i++) await variants[name]!(); // warm-up
    for (let rep = 0; rep < repetitions; rep++) {
      for (const latency of latencies) {
        await admin.clearFaults();
        if (latency > 0)
          await admin.fault({ method: 'POST', path: '/payments/payments', fault: 'latency', params: { ms: latency } });
        const order = rep % 2 === 0 ? names : [...names].reverse();
        for (const name of order) {
          const times: number[] = [];
          for (let i = 0; i < calls; i++) {
            const t0 = performance.now();
            await variants[name]!();
            times.push(performance.now() - t0);
          }
          const key = `${name}@${latency}`;
          cells.set(key, [...(cells.get(key) ?? []), { p50: percentile(times, 50), p99: percentile(times, 99) }]);
          process.stderr.write(`  rep ${rep + 1} ${key}: p50 ${round(percentile(times, 50))} ms\n`);
        }
      }
    }
    await admin.clearFaults();
  } finally {
    for (const w of workers) w.shutdown();
    await running;
    await connection.close();
    await engine.close();
    await devServer.stop();
    await sandbox.close();
  }
  const results = latencies.flatMap((latency) => {
    const base = percentile(
      cells.get(`${names[0]}@${latency}`)!.map((c) => c.p50),
      50,
    );
    return names.map((name) => {
      const c = cells.get(`${name}@${latency}`)!;
      const p50 = spread(c.map((x) => x.p50));
      return {
        providerLatencyMs: latency,
        variant: name,
        p50Ms: p50,
        p99Ms: spread(c.map((x) => x.p99)),
        ratioP50ToInProcess: round(p50.median / base),
      };
    });
  });
  const file = writeResult('levers', started, {
    callsPerCell: calls,
    repetitions,
    method:
      'client.workflow.execute of a one-activity workflow, sequential; baseline: the activity function in process',
    results,
  });
  console.log(`\nUser-flow levers, minimal one-call workflow (${calls} calls x ${repetitions} reps)`);
  for (const r of results)
    console.log(
      `  ${String(r.providerLatencyMs).padStart(3)} ms  ${r.variant.padEnd(30)} p50 ${formatSpread(r.p50Ms, ' ms')} p99 ${formatSpread(r.p99Ms, ' ms')}  ${r.ratioP50ToInProcess}x`,
    );
  console.log(`wrote ${file}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

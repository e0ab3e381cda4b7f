/**
 * Worker memory per 1,000 open workflows: `node --import tsx bench/memory.ts` (`--quick`: 300 workflows).
 *
 * A real Temporal dev server and, for each variant, a fresh worker process (bench/support/memory-worker.ts)
 * loading a prebuilt bundle. It starts N workflows that wait forever (`benchWait`, a condition never met),
 * waits until all of them are in the worker's cache, then reads the worker's RSS after a full GC. The figure
 * is (RSS with N open - RSS with one open) per 1,000, with the main thread's V8 heap (workflows run in the
 * SDK's workflow thread, so theirs is not in it: only RSS shows them) and the cache size at the end. Variants, interleaved over 3 repetitions:
 * - `trivial bundle` (baseline): `benchWait` bundled alone;
 * - `trivial + zod and one schema`: what zod alone costs each workflow;
 * - `project bundle`: `benchWait` bundled with src/workflows as the worker bundles it (no zod in it: workflow
 *   code reads the integrations from src/integrations/manifest.generated.ts; `sharedWorkflowModules`
 *   preloaded: evaluated once per V8 context and shared by every workflow, src/workers/workflow-bundle.ts);
 * - `project bundle, nothing preloaded`: the same without `preloadModules`: what sharing those saves;
 * - `project bundle, cache bounded at half`: `maxCachedWorkflows` at N/2: the figure a cache bound gives;
 * - `project bundle, reuseV8Context off`: one V8 context per cached workflow (the SDK's pre-1.9 mode).
 * Writes bench/results/memory.json, prints a table.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode } from '@temporalio/worker';
import { startDevServer } from '../src/devserver/dev-server';
import { createLogger } from '../src/observability/logger';
import { installTemporalRuntime } from '../src/workers/runtime';
import { sharedWorkflowModules } from '../src/workers/workflow-bundle';
import { quietBundlerLogger } from '../test/support/stack';
import { formatSpread, machine, round, spread, writeResult } from './support/report';

const quick = process.argv.includes('--quick');
const workflows = Number(process.env.BENCH_MEMORY_WORKFLOWS ?? (quick ? 150 : 300));
const repetitions = Number(process.env.BENCH_REPETITIONS ?? 3);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Variant {
  name: string;
  workflowsPath: string;
  /** Bundler `preloadModules`: evaluated once per V8 context and shared by every workflow. */
  preloadModules?: string[];
  env?: Record<string, string>;
}

const project = require.resolve('./workflows/project-waiting.workflows');

const variants: Variant[] = [
  { name: 'trivial bundle', workflowsPath: require.resolve('./workflows/waiting.workflows') },
  { name: 'trivial + zod and one schema', workflowsPath: require.resolve('./workflows/zod-waiting.workflows') },
  // As the workers bundle it (workflowBundleOptions): the shared modules preloaded.
  { name: 'project bundle', workflowsPath: project, preloadModules: sharedWorkflowModules },
  { name: 'project bundle, nothing preloaded', workflowsPath: project },
  {
    // The worker's cache bound (src/workers/worker.ts), at half the workflows started: the rest are evicted.
    name: 'project bundle, cache bounded at half',
    workflowsPath: project,
    preloadModules: sharedWorkflowModules,
    env: { BENCH_MAX_CACHED: String(Math.floor(workflows / 2)) },
  },
  {
    // One context per workflow: preloading applies only to a reused context.
    name: 'project bundle, reuseV8Context off',
    workflowsPath: project,
    env: { BENCH_REUSE_V8: 'false' },
  },
];

interface Status {
  rss: number;
  heapUsed: number;
  cached: number;
}

function ask(child: ChildProcess): Promise<Status> {
  return new Promise((resolve) => {
    const onMessage = (m: Status & { ready?: boolean }) => {
      if (m.rss !== undefined) {
        child.off('message', onMessage);
        resolve(m);
      }
    };
    child.on('message', onMessage);
    child.send('status');
  });
}

async function measure(client: Client, address: string, bundle: string, variant: Variant, rep: number) {
  const taskQueue = `bench-memory-${variant.name.replace(/\W+/g, '-')}-${rep}-${Date.now().toString(36)}`;
  const child = fork(join(__dirname, 'support', 'memory-worker.ts'), {
    execArgv: ['--import', 'tsx', '--expose-gc'],
    env: {
      ...process.env,
      BENCH_ADDRESS: address,
      BENCH_TASK_QUEUE: taskQueue,
      BENCH_BUNDLE: bundle,
      BENCH_MAX_CACHED: String(workflows + 100),
      ...variant.env,
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  try {
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code) => reject(new Error(`worker exited with ${code}`)));
    });
    const start = (id: string) => client.workflow.start('benchWait', { taskQueue, workflowId: id });
    const handles = [await start(`${taskQueue}-0`)];
    const waitCached = async (n: number) => {
      const deadline = Date.now() + 120_000;
      for (;;) {
        const status = await ask(child);
        if (status.cached >= n) return status;
        if (Date.now() > deadline) throw new Error(`only ${status.cached} of ${n} workflows cached after 120 s`);
        await new Promise((r) => setTimeout(r, 250));
      }
    };
    await waitCached(1);
    await new Promise((r) => setTimeout(r, 500));
    const base = await ask(child);
    for (let i = 1; i <= workflows; i += 50) {
      const batch = [];
      for (let j = i; j < Math.min(i + 50, workflows + 1); j++) batch.push(start(`${taskQueue}-${j}`));
      handles.push(...(await Promise.all(batch)));
    }
    // With a cache bound, wait until every workflow ran its first task (the cache then holds the bound).
    const cap = variant.env?.BENCH_MAX_CACHED ? Number(variant.env.BENCH_MAX_CACHED) : workflows + 1;
    await waitCached(cap);
    for (const h of handles.slice(-20)) while ((await h.describe()).historyLength < 4) await sleep(100);
    await new Promise((r) => setTimeout(r, 1_000));
    const loaded = await ask(child);
    for (let i = 0; i < handles.length; i += 100)
      await Promise.all(handles.slice(i, i + 100).map((h) => h.terminate('benchmark done').catch(() => undefined)));
    return {
      baseRssMb: base.rss / 1e6,
      loadedRssMb: loaded.rss / 1e6,
      gbPer1000: ((loaded.rss - base.rss) / 1e9) * (1000 / workflows),
      heapGbPer1000: ((loaded.heapUsed - base.heapUsed) / 1e9) * (1000 / workflows),
      cachedAtEnd: loaded.cached,
    };
  } finally {
    child.send('stop');
    await new Promise((r) => child.once('exit', r));
  }
}

async function main(): Promise<void> {
  const started = machine();
  installTemporalRuntime(createLogger({ name: 'bench', level: 'error' }));
  const devServer = await startDevServer();
  const connection = await Connection.connect({ address: devServer.address });
  const client = new Client({ connection });
  const dir = mkdtempSync(join(tmpdir(), 'bench-memory-'));
  try {
    const bundles = new Map<string, string>();
    for (const variant of variants) {
      const { code } = await bundleWorkflowCode({
        workflowsPath: variant.workflowsPath,
        preloadModules: variant.preloadModules,
        logger: quietBundlerLogger,
      });
      const file = join(dir, `${variant.name.replace(/\W+/g, '-')}.js`);
      writeFileSync(file, code);
      bundles.set(variant.name, file);
    }
    const runs = new Map<
      string,
      { baseRssMb: number; loadedRssMb: number; gbPer1000: number; heapGbPer1000: number; cachedAtEnd: number }[]
    >();
    for (let rep = 0; rep < repetitions; rep++) {
      for (const variant of rep % 2 === 0 ? variants : [...variants].reverse()) {
        const r = await measure(client, devServer.address, bundles.get(variant.name)!, variant, rep);
        process.stderr.write(`  rep ${rep + 1} ${variant.name}: +${round(r.gbPer1000, 3)} GB per 1,000\n`);
        runs.set(variant.name, [...(runs.get(variant.name) ?? []), r]);
      }
    }
    const results = variants.map((v) => {
      const r = runs.get(v.name)!;
      return {
        variant: v.name,
        env: v.env ?? {},
        gbPer1000: spread(
          r.map((x) => x.gbPer1000),
          3,
        ),
        heapGbPer1000: spread(
          r.map((x) => x.heapGbPer1000),
          3,
        ),
        cachedAtEnd: spread(
          r.map((x) => x.cachedAtEnd),
          0,
        ),
        baseRssMb: spread(r.map((x) => x.baseRssMb)),
        loadedRssMb: spread(r.map((x) => x.loadedRssMb)),
      };
    });
    const baseline = results[0]!.gbPer1000.median;
    const file = writeResult('memory', started, {
      workflows,
      repetitions,
      method:
        'RSS after GC with N open waiting workflows minus with 1, per 1,000; fresh worker process per run; heapGbPer1000 is the main thread heap only (workflows run in the SDK workflow thread)',
      goalGbPer1000: 0.3,
      results: results.map((r) => ({ ...r, ratioToTrivial: round(r.gbPer1000.median / baseline) })),
    });
    console.log(`\nWorker RSS per 1,000 open workflows (${workflows} started, ${repetitions} reps, median (min-max))`);
    for (const r of results)
      console.log(
        `  ${r.variant.padEnd(38)} ${formatSpread(r.gbPer1000, ' GB')}  main-thread heap ${formatSpread(r.heapGbPer1000, ' GB')}  cached ${r.cachedAtEnd.median}  base RSS ${r.baseRssMb.median} MB  ${round(r.gbPer1000.median / baseline)}x`,
      );
    console.log(`wrote ${file}`);
  } finally {
    await connection.close();
    await devServer.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

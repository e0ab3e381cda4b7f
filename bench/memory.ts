/**
 * Worker memory per 1,000 open workflows: `node --import tsx bench/memory.ts` (`--quick`: 300 workflows).
 *
 * A real Temporal dev server and, for each variant, a fresh worker process (bench/support/memory-worker.ts)
 * loading a prebuilt bundle. It starts N workflows that wait for a signal (`benchWait`), waits until each has
 * run its first task (and the cache holds its bound), then reads the worker's RSS after a full GC. The figure
 * is (RSS with N open - RSS with one open) per 1,000, with the main thread's V8 heap (workflows run in the
 * SDK's workflow thread, so theirs is not in it: only RSS shows them) and the cache size at the end. Variants, interleaved over 3 repetitions:
 * - `trivial bundle` (baseline): `benchWait` bundled alone;
 * - `trivial + zod and one schema`: what zod alone costs each workflow;
 * - `project bundle`: `benchWait` bundled with src/workflows as the worker bundles it (no zod in it: workflow
 *   code reads the integrations from src/integrations/manifest.generated.ts; `sharedWorkflowModules`
 *   preloaded: evaluated once per V8 context and shared by every workflow, src/workers/workflow-bundle.ts);
 * - `project bundle, nothing preloaded`: the same without `preloadModules`: what sharing those saves;
 * - `project bundle, cache bounded at half`: `maxCachedWorkflows` at N/2: the figure a cache bound gives;
 * - `project bundle, reuseV8Context off`: one V8 context per cached workflow (the SDK's pre-1.9 mode);
 * - `worker settings, 1,000 open`: what a worker of this project holds with 1,000 open workflows, the goal's
 *   own unit: the project bundle as the workers load it, with the worker's cache bound
 *   (`DEFAULT_MAX_CACHED_WORKFLOWS`, src/workers/worker.ts); the workflows beyond it are evicted.
 * What eviction costs: in the last variant, 20 of the cached workflows and 20 evicted ones are signalled and
 * the time from the signal to their result is measured (an evicted one is replayed from its history first);
 * and one replay of recorded histories of open orders (test/replay/histories: parked for an operator, waiting
 * on a webhook) is timed on a replay worker with the project bundle: what an evicted order costs on its next
 * task.
 * Writes bench/results/memory.json, prints a table.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import { startDevServer } from '../src/devserver/dev-server';
import { createLogger } from '../src/observability/logger';
import { installTemporalRuntime } from '../src/workers/runtime';
import { DEFAULT_MAX_CACHED_WORKFLOWS, workflowsPath } from '../src/workers/worker';
import { sharedWorkflowModules } from '../src/workers/workflow-bundle';
import { loadHistories } from '../test/replay/histories';
import { quietBundlerLogger } from '../test/support/stack';
import { formatSpread, machine, percentile, round, spread, writeResult } from './support/report';

const quick = process.argv.includes('--quick');
const workflows = Number(process.env.BENCH_MEMORY_WORKFLOWS ?? (quick ? 150 : 300));
/** The goal's unit: a worker with 1,000 open workflows (fewer with --quick, still above the cache bound). */
const openAtWorkerSettings = Number(process.env.BENCH_MEMORY_OPEN ?? (quick ? 700 : 1000));
const woken = 20;
const repetitions = Number(process.env.BENCH_REPETITIONS ?? 3);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Variant {
  name: string;
  workflowsPath: string;
  /** Bundler `preloadModules`: evaluated once per V8 context and shared by every workflow. */
  preloadModules?: string[];
  env?: Record<string, string>;
  /** Workflows started (default: `workflows`). */
  open?: number;
  /** Time the wake-up of cached and evicted workflows at the end. */
  wake?: boolean;
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
  {
    // What a worker of this project holds: its bundle and its cache bound, at the goal's 1,000 open workflows.
    name: `worker settings, ${openAtWorkerSettings} open`,
    workflowsPath: project,
    preloadModules: sharedWorkflowModules,
    env: { BENCH_MAX_CACHED: String(DEFAULT_MAX_CACHED_WORKFLOWS) },
    open: openAtWorkerSettings,
    wake: true,
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

/** Signal each workflow in turn and time until its result: the p50 in ms. */
async function wakeEach(handles: WorkflowHandle[]): Promise<number> {
  const times: number[] = [];
  for (const h of handles) {
    const t0 = performance.now();
    await h.signal('benchWake');
    await h.result();
    times.push(performance.now() - t0);
  }
  return percentile(times, 50);
}

/**
 * One replay of each recorded history of an order left open (parked for an operator, waiting on a webhook),
 * on a replay worker with the project's bundle, `rounds` times over: ms per history, and its events.
 */
async function replayCost(rounds: number): Promise<{ histories: number; events: number; msPerReplay: number }> {
  const open = loadHistories().filter(
    (h) => h.workflowType === 'fulfillOrder' && /parked|webhook|cancelled-mid/.test(h.file),
  );
  const { code } = await bundleWorkflowCode({
    workflowsPath,
    preloadModules: sharedWorkflowModules,
    logger: quietBundlerLogger,
  });
  const all = Array.from({ length: rounds }, (_, r) =>
    open.map((h) => ({ ...h, workflowId: `${h.workflowId}-${r}` })),
  ).flat();
  // A first pass warms the replay worker's thread and context, as a running worker's are.
  for await (const result of Worker.runReplayHistories({ workflowBundle: { code } }, open))
    if (result.error) throw result.error;
  const t0 = performance.now();
  for await (const result of Worker.runReplayHistories({ workflowBundle: { code } }, all))
    if (result.error) throw result.error;
  const events = open.reduce((n, h) => n + (h.history.events?.length ?? 0), 0) / open.length;
  return {
    histories: open.length,
    events: round(events, 0),
    msPerReplay: round((performance.now() - t0) / all.length),
  };
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
      BENCH_MAX_CACHED: String((variant.open ?? workflows) + 100),
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
    const open = variant.open ?? workflows;
    for (let i = 1; i <= open; i += 50) {
      const batch = [];
      for (let j = i; j < Math.min(i + 50, open + 1); j++) batch.push(start(`${taskQueue}-${j}`));
      handles.push(...(await Promise.all(batch)));
    }
    // With a cache bound, wait until every workflow ran its first task (the cache then holds the bound).
    const cap = Math.min(open + 1, variant.env?.BENCH_MAX_CACHED ? Number(variant.env.BENCH_MAX_CACHED) : open + 1);
    await waitCached(cap);
    for (const h of handles.slice(-20)) while ((await h.describe()).historyLength < 4) await sleep(100);
    await new Promise((r) => setTimeout(r, 1_000));
    const loaded = await ask(child);
    // The cache evicts the least recently used: the first started are evicted, the last started cached.
    const wake = variant.wake
      ? { cachedMs: await wakeEach(handles.slice(-woken)), evictedMs: await wakeEach(handles.slice(1, 1 + woken)) }
      : undefined;
    for (let i = 0; i < handles.length; i += 100)
      await Promise.all(handles.slice(i, i + 100).map((h) => h.terminate('benchmark done').catch(() => undefined)));
    return {
      open,
      baseRssMb: base.rss / 1e6,
      loadedRssMb: loaded.rss / 1e6,
      gbPer1000: ((loaded.rss - base.rss) / 1e9) * (1000 / open),
      heapGbPer1000: ((loaded.heapUsed - base.heapUsed) / 1e9) * (1000 / open),
      cachedAtEnd: loaded.cached,
      wake,
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
    const runs = new Map<string, Awaited<ReturnType<typeof measure>>[]>();
    for (let rep = 0; rep < repetitions; rep++) {
      for (const variant of rep % 2 === 0 ? variants : [...variants].reverse()) {
        const r = await measure(client, devServer.address, bundles.get(variant.name)!, variant, rep);
        const wake = r.wake ? `; wake cached ${round(r.wake.cachedMs)} ms, evicted ${round(r.wake.evictedMs)} ms` : '';
        process.stderr.write(`  rep ${rep + 1} ${variant.name}: +${round(r.gbPer1000, 3)} GB per 1,000${wake}\n`);
        runs.set(variant.name, [...(runs.get(variant.name) ?? []), r]);
      }
    }
    const results = variants.map((v) => {
      const r = runs.get(v.name)!;
      const wakes = r.flatMap((x) => (x.wake ? [x.wake] : []));
      return {
        variant: v.name,
        env: v.env ?? {},
        open: v.open ?? workflows,
        ...(wakes.length
          ? {
              wakeCachedMs: spread(wakes.map((w) => w.cachedMs)),
              wakeEvictedMs: spread(wakes.map((w) => w.evictedMs)),
            }
          : {}),
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
    const replay = await replayCost(quick ? 5 : 20);
    const file = writeResult('memory', started, {
      workflows,
      repetitions,
      maxCachedWorkflows: DEFAULT_MAX_CACHED_WORKFLOWS,
      replayOfOpenOrder: replay,
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
    for (const r of results)
      if (r.wakeCachedMs)
        console.log(
          `  wake-up (${r.variant}): cached ${formatSpread(r.wakeCachedMs, ' ms')}, evicted ${formatSpread(r.wakeEvictedMs!, ' ms')}`,
        );
    console.log(
      `  replay of an open order's history (${replay.histories} recorded, ${replay.events} events on average): ${replay.msPerReplay} ms each`,
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

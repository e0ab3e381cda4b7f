/**
 * Worker cold start, spawn to polling: `node --import tsx bench/cold-start.ts` (`--quick`: 2 repetitions).
 *
 * A real Temporal dev server and sandbox; each run spawns the real worker process (src/workers/main.ts,
 * `node --import tsx`) and times, from the spawn: its first log line (tsx and the imports), the namespace
 * check, the integrations' start-up checks, `worker.ready` (Worker.create done) and the first 200 from
 * its `/readyz` (every worker polling). Variants, interleaved:
 * - `bundle at start` (before): no prebuilt bundle, the worker bundles src/workflows;
 * - `prebuilt bundle`: the bundle of `npm run build:workflows` (dist/workflow-bundle.js), checked fresh
 *   by its sources' hash.
 * The prebuilt bundle is rebuilt first, and hidden (renamed) during the `bundle at start` runs only.
 * Baseline: a BullMQ worker process (spawn to its `ready` event) on the Redis at 127.0.0.1:6379.
 * Writes bench/results/cold-start.json, prints a table.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { devCredentials } from '../src/devserver/dev-credentials';
import { startDevServer } from '../src/devserver/dev-server';
import { startSandbox } from '../src/sandbox/server';
import { prebuiltBundlePaths } from '../src/workers/workflow-bundle';
import { formatSpread, machine, round, spread, writeResult } from './support/report';
import { sandboxCredentialsOf } from '../src/sandbox/credentials';

const quick = process.argv.includes('--quick');
const repetitions = Number(process.env.BENCH_REPETITIONS ?? (quick ? 2 : 3));
const root = join(__dirname, '..');

interface Phases {
  firstLogMs: number;
  namespaceCheckMs: number;
  integrationChecksMs: number;
  workerReadyMs: number;
  pollingMs: number;
}

async function startWorker(env: NodeJS.ProcessEnv): Promise<Phases> {
  const t0 = performance.now();
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'src/workers/main.ts')], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const marks: Partial<Phases> = {};
  const stderr: string[] = [];
  child.stderr.on('data', (d: Buffer) => stderr.push(d.toString()));
  try {
    const health = await new Promise<string>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`worker exited ${code}: ${stderr.join('').slice(-2000)}`)));
      createInterface({ input: child.stdout }).on('line', (line) => {
        const now = performance.now() - t0;
        marks.firstLogMs ??= now;
        let record: { event?: string; health?: string };
        try {
          record = JSON.parse(line) as typeof record;
        } catch {
          return;
        }
        if (record.event === 'temporal.check') marks.namespaceCheckMs = now;
        if (record.event === 'integration.check') marks.integrationChecksMs = now;
        if (record.event === 'worker.ready') {
          marks.workerReadyMs = now;
          resolve(record.health!);
        }
      });
    });
    for (;;) {
      const ok = await fetch(`${health}/readyz`)
        .then((r) => r.ok)
        .catch(() => false);
      if (ok) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    marks.pollingMs = performance.now() - t0;
    return marks as Phases;
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once('exit', r)));
  }
}

/** A BullMQ worker process: spawn to its `ready` event (connected to Redis, waiting for jobs). */
async function startBullWorker(): Promise<number> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [join(__dirname, 'support', 'bullmq-worker.cjs')], {
    env: { ...process.env, BENCH_BULL_QUEUE: `cold-start-${Date.now().toString(36)}` },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`bullmq worker exited ${code}`)));
    createInterface({ input: child.stdout }).on('line', (line) => line === 'ready' && resolve());
  });
  const ms = performance.now() - t0;
  child.kill('SIGTERM');
  await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once('exit', r)));
  return ms;
}

async function main(): Promise<void> {
  const started = machine();
  const built = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'scripts/build-workflows.ts')], {
    stdio: 'inherit',
  });
  if (built.status !== 0) throw new Error('npm run build:workflows failed');
  const credentials = devCredentials();
  const sandbox = await startSandbox({
    credentials: sandboxCredentialsOf((variable) => credentials.sandboxEnv[variable]),
  });
  const devServer = await startDevServer();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: 'development',
    ...credentials.integrationEnv(sandbox.url),
    TEMPORAL_ADDRESS: devServer.address,
    WORKER_OPS_PORT: '0',
    LOG_LEVEL: 'info',
  };
  const hidden = `${prebuiltBundlePaths.manifest}.hidden-by-bench`;
  const variants: { name: string; prebuilt: boolean }[] = [
    { name: 'bundle at start (before)', prebuilt: false },
    { name: 'prebuilt bundle', prebuilt: true },
  ];
  const runs = new Map<string, Phases[]>();
  const bull: number[] = [];
  try {
    for (let rep = 0; rep < repetitions; rep++) {
      for (const variant of rep % 2 === 0 ? variants : [...variants].reverse()) {
        if (!variant.prebuilt) renameSync(prebuiltBundlePaths.manifest, hidden);
        try {
          const phases = await startWorker(env);
          process.stderr.write(`  rep ${rep + 1} ${variant.name}: polling after ${Math.round(phases.pollingMs)} ms\n`);
          runs.set(variant.name, [...(runs.get(variant.name) ?? []), phases]);
        } finally {
          if (!variant.prebuilt) renameSync(hidden, prebuiltBundlePaths.manifest);
        }
      }
      bull.push(await startBullWorker());
    }
  } finally {
    if (existsSync(hidden)) renameSync(hidden, prebuiltBundlePaths.manifest);
    await devServer.stop();
    await sandbox.close();
  }
  const bullSpread = spread(bull, 0);
  const results = variants.map((v) => {
    const r = runs.get(v.name)!;
    const of = (k: keyof Phases) =>
      spread(
        r.map((p) => p[k]),
        0,
      );
    return {
      variant: v.name,
      spawnToPollingMs: of('pollingMs'),
      phasesMs: {
        firstLog: of('firstLogMs'),
        namespaceChecked: of('namespaceCheckMs'),
        integrationsChecked: of('integrationChecksMs'),
        workerReady: of('workerReadyMs'),
      },
      ratioToBullmq: round(of('pollingMs').median / bullSpread.median),
    };
  });
  const file = writeResult('cold-start', started, {
    repetitions,
    method: 'spawn of node --import tsx src/workers/main.ts to the first 200 of /readyz; phases from its log lines',
    goalMs: 1000,
    baseline: { name: 'BullMQ worker process, spawn to ready', spawnToReadyMs: bullSpread },
    results,
  });
  console.log(`\nWorker cold start, spawn to polling (${repetitions} reps, median (min-max))`);
  for (const r of results)
    console.log(
      `  ${r.variant.padEnd(26)} ${formatSpread(r.spawnToPollingMs, ' ms')}  (first log ${r.phasesMs.firstLog.median}, namespace ${r.phasesMs.namespaceChecked.median}, integrations ${r.phasesMs.integrationsChecked.median}, ready ${r.phasesMs.workerReady.median})  ${r.ratioToBullmq}x BullMQ`,
    );
  console.log(`  ${'BullMQ worker'.padEnd(26)} ${formatSpread(bullSpread, ' ms')}`);
  console.log(`wrote ${file}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

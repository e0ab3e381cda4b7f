/**
 * Worker cold start, spawn to polling: `node --import tsx bench/cold-start.ts` (`--quick`: 2 repetitions).
 *
 * A real Temporal dev server and sandbox; each run spawns the real worker process and times, from the
 * spawn: its first log line (loading the imports), the namespace check, `worker.ready` (Worker.create
 * done, polling started), the first 200 from its `/readyz` (every worker polling), and the integrations'
 * start-up checks (since issue 12 they run after polling starts, so they may come after it). Variants,
 * interleaved:
 * - `tsx, bundle at start`: `node --import tsx src/workers/main.ts` without a prebuilt bundle (it bundles
 *   src/workflows at start);
 * - `tsx, prebuilt bundle`: the same with the bundle of `npm run build:workflows` (dist/workflow-bundle.js),
 *   checked fresh by its sources' hash;
 * - `compiled, prebuilt bundle`: `node dist/workers/main.js` (`npm run build`, no tsx) with the same bundle,
 *   what the Dockerfile runs;
 * - `one file, prebuilt bundle`: `node dist/workers/main.bundle.js` (`npm run build:worker-bundle`: the
 *   compiled entry with its pure-JS dependencies in one file, the Temporal SDK left in node_modules).
 * The compiled code, the one-file entry and then the prebuilt bundle are rebuilt first; the bundle is hidden (its manifest
 * renamed) during the `bundle at start` runs only.
 * Each run also reads the worker's CPU time (user + system, all threads, /proc) at its first 200: on this
 * shared machine it moves less with the load than the wall time does.
 * Baseline: a BullMQ worker process (spawn to its `ready` event) on the Redis at 127.0.0.1:6379.
 * Writes bench/results/cold-start.json, prints a table.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { devCredentials } from '../src/devserver/dev-credentials';
import { startDevServer } from '../src/devserver/dev-server';
import { startSandbox } from '../src/sandbox/server';
import { integrations } from '../src/integrations';
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
  /** CPU time (user + system, every thread) of the worker process by its first 200: less load-bound than wall time. */
  cpuToPollingMs: number;
}

/** CPU time of a process so far (Linux /proc, clock ticks of 10 ms). */
function cpuMsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10; // utime, stime (fields 14 and 15 of stat)
}

/** How the worker process of checkout `at` is started: through tsx from the sources, or the compiled entry. */
const entries = {
  tsx: (at: string) => ['--import', 'tsx', join(at, 'src/workers/main.ts')],
  compiled: (at: string) => [join(at, 'dist/workers/main.js')],
  // npm run build:worker-bundle: the compiled entry and its pure-JS dependencies in one file (esbuild).
  oneFile: (at: string) => [join(at, 'dist/workers/main.bundle.js')],
} as const;

/**
 * Optional: another checkout (e.g. the commit before a change, `git archive` into a directory with
 * node_modules linked), already built with `npm run build && npm run build:workflows`; its tsx and
 * compiled entries, with its prebuilt bundle, run interleaved with these as rows `before: ...`.
 */
const compareRoot = process.env.COLD_START_COMPARE_ROOT;

async function startWorker(env: NodeJS.ProcessEnv, args: string[]): Promise<Phases> {
  const t0 = performance.now();
  const child = spawn(process.execPath, args, {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const marks: Partial<Phases> = {};
  // The start-up checks run after polling starts: the last one's line may come after the first 200.
  let checksSeen = 0;
  let checksDone!: () => void;
  const allChecked = new Promise<void>((r) => (checksDone = r));
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
        if (record.event === 'integration.check') {
          marks.integrationChecksMs = now;
          if (++checksSeen === Object.keys(integrations).length) checksDone();
        }
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
    marks.cpuToPollingMs = cpuMsOf(child.pid!);
    await allChecked;
    return marks as Phases;
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once('exit', r)));
  }
}

/** A BullMQ worker process: spawn to its `ready` event (connected to Redis, waiting for jobs). */
async function startBullWorker(): Promise<{ ms: number; cpuMs: number }> {
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
  const cpuMs = cpuMsOf(child.pid!);
  child.kill('SIGTERM');
  await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once('exit', r)));
  return { ms, cpuMs };
}

async function main(): Promise<void> {
  const started = machine();
  // The compiled code first, then the bundle: its manifest records the compiled code's hash too.
  const compiled = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
    cwd: root,
    stdio: 'inherit',
  });
  if (compiled.status !== 0) throw new Error('npm run build failed');
  // Then the one-file entry (npm run build:worker-bundle): before the bundle, whose manifest hashes dist/.
  const oneFile = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'scripts/bundle-worker.ts')], {
    stdio: 'inherit',
  });
  if (oneFile.status !== 0) throw new Error('npm run build:worker-bundle failed');
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
  const variants: { name: string; prebuilt: boolean; args: string[] }[] = [
    { name: 'tsx, bundle at start', prebuilt: false, args: entries.tsx(root) },
    { name: 'tsx, prebuilt bundle', prebuilt: true, args: entries.tsx(root) },
    { name: 'compiled, prebuilt bundle', prebuilt: true, args: entries.compiled(root) },
    { name: 'one file, prebuilt bundle', prebuilt: true, args: entries.oneFile(root) },
    ...(compareRoot
      ? [
          { name: 'before: tsx, prebuilt bundle', prebuilt: true, args: entries.tsx(compareRoot) },
          { name: 'before: compiled, prebuilt bundle', prebuilt: true, args: entries.compiled(compareRoot) },
        ]
      : []),
  ];
  const runs = new Map<string, Phases[]>();
  const bull: number[] = [];
  const bullCpu: number[] = [];
  try {
    for (let rep = 0; rep < repetitions; rep++) {
      for (const variant of rep % 2 === 0 ? variants : [...variants].reverse()) {
        if (!variant.prebuilt) renameSync(prebuiltBundlePaths.manifest, hidden);
        try {
          const phases = await startWorker(env, variant.args);
          process.stderr.write(
            `  rep ${rep + 1} ${variant.name}: polling after ${Math.round(phases.pollingMs)} ms, ${phases.cpuToPollingMs} ms CPU\n`,
          );
          runs.set(variant.name, [...(runs.get(variant.name) ?? []), phases]);
        } finally {
          if (!variant.prebuilt) renameSync(hidden, prebuiltBundlePaths.manifest);
        }
      }
      const bullRun = await startBullWorker();
      bull.push(bullRun.ms);
      bullCpu.push(bullRun.cpuMs);
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
      cpuToPollingMs: of('cpuToPollingMs'),
      phasesMs: {
        firstLog: of('firstLogMs'),
        namespaceChecked: of('namespaceCheckMs'),
        workerReady: of('workerReadyMs'),
        // After polling starts (issue 12): not part of spawnToPollingMs.
        integrationsChecked: of('integrationChecksMs'),
      },
      ratioToBullmq: round(of('pollingMs').median / bullSpread.median),
    };
  });
  const file = writeResult('cold-start', started, {
    repetitions,
    method:
      'spawn of the worker process (node --import tsx src/workers/main.ts, or node dist/workers/main.js) to the first 200 of /readyz; phases from its log lines',
    goalMs: 1000,
    baseline: {
      name: 'BullMQ worker process, spawn to ready',
      spawnToReadyMs: bullSpread,
      cpuToReadyMs: spread(bullCpu, 0),
    },
    results,
  });
  console.log(`\nWorker cold start, spawn to polling (${repetitions} reps, median (min-max))`);
  for (const r of results)
    console.log(
      `  ${r.variant.padEnd(34)} ${formatSpread(r.spawnToPollingMs, ' ms')}, CPU ${formatSpread(r.cpuToPollingMs, ' ms')}  (first log ${r.phasesMs.firstLog.median}, namespace ${r.phasesMs.namespaceChecked.median}, ready ${r.phasesMs.workerReady.median}; integrations checked ${r.phasesMs.integrationsChecked.median})  ${r.ratioToBullmq}x BullMQ`,
    );
  console.log(
    `  ${'BullMQ worker'.padEnd(34)} ${formatSpread(bullSpread, ' ms')}, CPU ${formatSpread(spread(bullCpu, 0), ' ms')}`,
  );
  console.log(`wrote ${file}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

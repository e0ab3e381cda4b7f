/**
 * `npm run bench`: the whole suite, each benchmark side by side with its baseline, then
 * bench/results/SUMMARY.md (the table the README quotes) and bench/results/suite.json.
 *
 * `--quick` passes on to every benchmark (smaller runs); `--only a,b` runs a subset (names below). The
 * existing single-run benchmarks (webhook-ack, email-rate) are run 3 times, alternating their order, and
 * their spread is taken over the runs; the others interleave their own 3 repetitions. BullMQ, the baseline,
 * is also the Redis outbox of the webhook receiver (src/webhooks/redis-outbox.ts). Never run the chaos suite here.
 */
/* eslint-disable @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return, @typescript-eslint/no-explicit-any --
   the summary reads the JSON the other benchmarks wrote: their shapes are theirs, checked by running it */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatSpread, machine, resultsDir, spread, writeResult, type Spread } from './support/report';

const quick = process.argv.includes('--quick');
const onlyArg = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length);
const repeatedRuns = Number(process.env.BENCH_REPETITIONS ?? 3);
const all = ['webhook-ack', 'email-rate', 'user-flow', 'background', 'memory', 'cold-start', 'levers'] as const;
type Name = (typeof all)[number];
const selected = new Set<Name>(onlyArg ? (onlyArg.split(',') as Name[]) : all);

const read = (name: string): Record<string, any> | undefined => {
  const file = join(resultsDir, `${name}.json`);
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, any>) : undefined;
};

/**
 * The suite runs email-rate three times: 300 emails per mode (15 provider windows) keeps that near ten minutes;
 * `BENCH_EMAILS` overrides it (the benchmark alone runs 600).
 */
const suiteEnv: Partial<Record<Name, NodeJS.ProcessEnv>> = {
  'email-rate': { BENCH_EMAILS: process.env.BENCH_EMAILS ?? (quick ? '150' : '300') },
};

function runBenchmark(name: Name): void {
  process.stderr.write(`\n== ${name}\n`);
  const args = ['--import', 'tsx', join(__dirname, `${name}.ts`), ...(quick ? ['--quick'] : [])];
  const t0 = Date.now();
  const env = { ...process.env, ...suiteEnv[name] };
  const result = spawnSync(process.execPath, args, { stdio: 'inherit', env });
  if (result.status !== 0) throw new Error(`bench/${name}.ts failed (exit ${result.status})`);
  process.stderr.write(`== ${name}: ${Math.round((Date.now() - t0) / 1000)} s\n`);
}

function main(): void {
  const started = machine();
  const repeated: Record<string, Record<string, any>[]> = { 'webhook-ack': [], 'email-rate': [] };
  const single = (['webhook-ack', 'email-rate'] as const).filter((n) => selected.has(n));
  for (let rep = 0; rep < (single.length ? (quick ? 1 : repeatedRuns) : 0); rep++) {
    for (const name of rep % 2 === 0 ? single : [...single].reverse()) {
      runBenchmark(name);
      repeated[name]!.push(read(name)!);
    }
  }
  for (const name of ['user-flow', 'background', 'memory', 'cold-start', 'levers'] as const)
    if (selected.has(name)) runBenchmark(name);

  // The single-run benchmarks' figures, with their spread over the runs.
  const suite: Record<string, unknown> = {};
  if (repeated['webhook-ack']!.length) {
    const runs = repeated['webhook-ack']!;
    const mode = (r: Record<string, any>, i: number) => r.results[i].latencyMs as { p50: number; p99: number };
    // results: verify-only, BullMQ enqueue (the baseline), Temporal start, PostgreSQL outbox, Redis outbox.
    const ratioOf = (r: Record<string, any>, i: number) => ({
      p50: Math.round((mode(r, i).p50 / mode(r, 1).p50) * 100) / 100,
      p99: Math.round((mode(r, i).p99 / mode(r, 1).p99) * 100) / 100,
    });
    suite.webhookAck = [4, 3, 2].map((i) => ({
      runs: runs.length,
      baseline: runs[0]!.results[1].mode,
      project: runs[0]!.results[i].mode,
      baselineP99Ms: spread(runs.map((r) => mode(r, 1).p99)),
      projectP99Ms: spread(runs.map((r) => mode(r, i).p99)),
      ratioP99: spread(runs.map((r) => ratioOf(r, i).p99)),
      ratioP50: spread(runs.map((r) => ratioOf(r, i).p50)),
    }));
  }
  if (repeated['email-rate']!.length) {
    const runs = repeated['email-rate']!;
    const modes = (runs[0]!.results as { mode: string }[]).map((m) => m.mode);
    suite.emailRate = modes.map((mode, i) => ({
      mode,
      emails: runs[0]!.results[i].emails,
      achievedToAllowed: spread(runs.map((r) => r.results[i].achievedToAllowed)),
      rateLimited429: spread(
        runs.map((r) => r.results[i].rateLimited429),
        0,
      ),
      // Steady state: the provider's window use over the run (bench/email-rate.ts `windowUse`).
      windowUse: spread(runs.map((r) => r.results[i].windowUse)),
      // Backlog mode: sent / (activity worker's start to last result), of the allowed rate.
      ...(runs[0]!.results[i].backlogMs
        ? {
            backlogUse: spread(
              runs.map((r) => r.results[i].sent / (r.results[i].backlogMs / 1000) / r.results[i].allowedPerSecond),
            ),
          }
        : {}),
    }));
  }
  const previous = read('suite');
  const merged = { ...(previous?.figures ?? {}), ...suite };
  writeResult('suite', started, { quick, ran: [...selected], figures: merged });
  writeSummary(merged);
}

const f = (s: Spread | undefined, unit = '') => (s ? formatSpread(s, unit) : 'not run');

function writeSummary(suite: Record<string, any>): void {
  const userFlow = read('user-flow');
  const background = read('background');
  const memory = read('memory');
  const coldStart = read('cold-start');
  const levers = read('levers');
  const rows: string[][] = [];
  for (const r of userFlow?.results ?? []) {
    // Each deployment against its own baseline: separate processes (as deployed), or all in one process.
    const where = r.deployment ? ` (${r.deployment})` : '';
    rows.push([
      `user flow${where}: \`startOrder\` until the charge is settled, provider ${r.providerLatencyMs} ms, p50 / p99`,
      `${f(r.startOrder.p50Ms, ' ms')} / ${f(r.startOrder.p99Ms, ' ms')}`,
      `direct \`undici.request\`: ${f(r.directUndici.p50Ms, ' ms')} / ${f(r.directUndici.p99Ms, ' ms')}`,
      `${r.ratioP50}x / ${r.ratioP99}x`,
      r.providerLatencyMs === 100 ? '<= 1.10x / 1.25x' : '',
    ]);
    // The fast-path variants, each a row against the same baseline.
    const variant = (
      label: string,
      cell: { p50Ms: Spread; p99Ms: Spread } | undefined,
      ratios: [number | undefined, number | undefined],
      goal: boolean,
    ) => {
      if (!cell) return;
      rows.push([
        `user flow${where}: ${label}, provider ${r.providerLatencyMs} ms, p50 / p99`,
        `${f(cell.p50Ms, ' ms')} / ${f(cell.p99Ms, ' ms')}`,
        `direct \`undici.request\`: ${f(r.directUndici.p50Ms, ' ms')} / ${f(r.directUndici.p99Ms, ' ms')}`,
        `${ratios[0]}x / ${ratios[1]}x`,
        goal && r.providerLatencyMs === 100 ? '<= 1.10x / 1.25x' : '',
      ]);
    };
    variant(
      "`startOrder` with `directCalls` (the service's engine), the start first",
      r.startOrderDirectCalls,
      [r.directCallsRatioP50, r.directCallsRatioP99],
      true,
    );
    variant(
      '`startOrder` with `directCalls` and `orderIntents` (the order recorded first, the start alongside the send)',
      r.directCallsOrderRecord,
      [r.directCallsOrderRecordRatioP50, r.directCallsOrderRecordRatioP99],
      true,
    );
    variant(
      'the start-first fast path, the charge step sending alongside the service (before it waited)',
      r.directCallsStepSendsAtOnce,
      [r.directCallsStepSendsAtOnceRatioP50, r.directCallsStepSendsAtOnceRatioP99],
      false,
    );
    variant(
      'the start-first fast path with eager start (`requestEagerStart`)',
      r.directCallsEagerStart,
      [r.directCallsEagerStartRatioP50, r.directCallsEagerStartRatioP99],
      false,
    );
  }
  for (const r of background?.results ?? []) {
    if (r.bulkLane)
      rows.push([
        `background: ${background!.itemsPerCell} charges, bulk lane (\`sendInBulk\`), concurrency ${r.concurrency}, items/s`,
        f(r.bulkLane),
        `BullMQ, same call path, same Redis: ${f(r.bullmq)}`,
        `${r.bulkLaneRatio}x`,
        '>= 0.3x',
      ]);
    rows.push([
      `background: ${background!.itemsPerCellOneWorkflowPerItem ?? background!.itemsPerCell} charges, one workflow each, concurrency ${r.concurrency}, items/s`,
      f(r.oneWorkflowPerItem),
      `BullMQ, same call path, same Redis: ${f(r.bullmq)}`,
      `${r.ratio}x`,
      '>= 0.3x',
    ]);
  }
  for (const r of memory?.results ?? []) {
    rows.push([
      `worker RSS per 1,000 open workflows: ${r.variant} (${r.open ?? memory!.workflows} started)`,
      f(r.gbPer1000, ' GB'),
      r.variant === 'trivial bundle' ? 'this is the baseline' : 'trivial waiting workflow bundled alone',
      `${r.ratioToTrivial}x`,
      '<= 0.3 GB',
    ]);
    if (r.wakeCachedMs && r.wakeEvictedMs)
      rows.push([
        `what eviction costs: signal to result of an evicted waiting workflow (${r.variant})`,
        f(r.wakeEvictedMs, ' ms'),
        `the same for a cached one: ${f(r.wakeCachedMs, ' ms')}`,
        `${Math.round((r.wakeEvictedMs.median / r.wakeCachedMs.median) * 100) / 100}x`,
        '',
      ]);
  }
  if (memory?.replayOfOpenOrder)
    rows.push([
      `what eviction costs: one replay of an open order's recorded history (${memory.replayOfOpenOrder.histories} histories, ${memory.replayOfOpenOrder.events} events on average)`,
      `${memory.replayOfOpenOrder.msPerReplay} ms`,
      '',
      '',
      '',
    ]);
  for (const r of coldStart?.results ?? []) {
    rows.push([
      `worker cold start, spawn to polling: ${r.variant}`,
      `${f(r.spawnToPollingMs, ' ms')}; CPU ${f(r.cpuToPollingMs, ' ms')}`,
      `BullMQ worker process: ${f(coldStart!.baseline.spawnToReadyMs, ' ms')}; CPU ${f(coldStart!.baseline.cpuToReadyMs, ' ms')}`,
      `${r.ratioToBullmq}x`,
      '<= 1,000 ms',
    ]);
  }
  for (const r of levers?.results ?? []) {
    if (r.variant.startsWith('in-process')) continue;
    rows.push([
      `user-flow lever, one-call workflow, provider ${r.providerLatencyMs} ms, p50 / p99: ${r.variant}`,
      `${f(r.p50Ms, ' ms')} / ${f(r.p99Ms, ' ms')}`,
      'the same activity function in process, no Temporal',
      `${r.ratioP50ToInProcess}x (p50)`,
      '',
    ]);
  }
  for (const r of suite.emailRate ?? []) {
    const emails = r.emails ? `, ${r.emails} emails` : '';
    // The limiter alone: every send queued before the activity worker starts.
    if (r.backlogUse) {
      rows.push([
        `rate-limit use (email, 10/s allowed${emails}): ${r.mode} (limiter alone, steady state)`,
        `${f(r.windowUse)} of the window, ${f(r.backlogUse)} from the worker's start to the last result, ${f(r.rateLimited429)} 429s`,
        'the allowed rate',
        `${r.windowUse?.median}x`,
        '',
      ]);
      continue;
    }
    rows.push([
      `rate-limit use (email, 10/s allowed${emails}): ${r.mode}`,
      `${f(r.achievedToAllowed)} of allowed end to end, ${f(r.rateLimited429)} 429s; steady state ${f(r.windowUse)} of the window`,
      'the allowed rate',
      `${r.achievedToAllowed.median}x`,
      r.mode.startsWith('provider window') && !r.mode.includes('before') ? '>= 0.95 with 0 429s' : '',
    ]);
  }
  for (const w of (suite.webhookAck as Record<string, any>[] | undefined) ?? []) {
    rows.push([
      `webhook acknowledgement p99: ${w.project}`,
      f(w.projectP99Ms, ' ms'),
      `${w.baseline}: ${f(w.baselineP99Ms, ' ms')}`,
      `${w.ratioP99.median}x (p50 ${w.ratioP50.median}x)`,
      'within 1.5x of a BullMQ enqueue',
    ]);
  }
  const m = machine();
  const table = [
    '| measure | this project | baseline | ratio | goal (issue 12) |',
    '| --- | --- | --- | --- | --- |',
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
  const text = `# Benchmark summary

Written by \`npm run bench\` (bench/run-all.ts) on ${new Date().toISOString().slice(0, 16)} UTC: ${m.cpus} x ${m.cpuModel}, ${m.memoryGb} GB,
Node ${m.node}, Temporal SDK ${m.temporalSdk}, BullMQ ${m.bullmq}; load average at start ${m.loadAverageAtStart.join(' / ')}
(the machine is shared: others' tests ran at the same time). Each figure is the median over 3 interleaved repetitions,
(min-max) in brackets; the raw figures are in the JSON file of each benchmark next to this one.

${table}

${notes}
`;
  writeFileSync(join(resultsDir, 'SUMMARY.md'), text);
  console.log(`\n${table}\n\nwrote ${join(resultsDir, 'SUMMARY.md')}`);
}

/** What the figures mean; kept by hand, next to the code that writes them. */
const notes = readNotes();

function readNotes(): string {
  const file = join(__dirname, 'SUMMARY-NOTES.md');
  return existsSync(file) ? readFileSync(file, 'utf8').trim() : '';
}

try {
  main();
} catch (err) {
  console.error(err);
  process.exit(1);
}

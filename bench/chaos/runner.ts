import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, release, type as osType } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { isGrpcServiceError, WorkflowUpdateRPCTimeoutOrCancelledError } from '@temporalio/client';
import { integrations } from '../../src/integrations';
import type { LedgerEntry } from '../../src/sandbox/types';
import { orderWorkflowId } from '../../src/contracts/messages';
import { cases as allCases } from './cases';
import { addCounts, countOf, emptyCounts, evaluate, historyDigest, inspect, isSettled } from './evaluate';
import { ChaosStack } from './stack';
import type { CaseContext, CaseCounts, ChaosCase, OrderEvaluation, Scale, StartAnswer, TrackedOrder } from './types';
import { pollUntil, sleep, within } from './wait';

export interface ChaosOptions {
  scale: Scale;
  /** Case names to run, in matrix order; all when unset. */
  cases?: string[];
  /** Seeds the chaos schedule (which worker, when). @default from the clock */
  seed?: number;
  /** Cap on each case's settle wait. @default 180 s full, 120 s quick */
  settleMs?: number;
  /** Stack logs, SQLite file, problem histories. @default .tmp/chaos-<pid> */
  dir?: string;
  /** Where the JSON results go; null: nowhere. @default bench/results/chaos.json */
  resultsFile?: string | null;
  log?: (line: string) => void;
}

export interface CaseReport {
  name: string;
  title: string;
  counts: CaseCounts;
  durationMs: number;
  /** From the end of the case's chaos to every order closed or parked (or the cap). */
  settleMs: number;
  settled: boolean;
  /** What the stack saw meanwhile: kills, restarts, crashes. */
  events: string[];
  /** Orders that broke a promise or a case expectation, with the path of their history digest. */
  problems: (OrderEvaluation & { history?: string })[];
  /** Every order's one-line outcome. */
  orders: {
    label: string;
    workflowId: string;
    final: string;
    effects: OrderEvaluation['effects'];
    answers: string[];
    failure?: string;
    history?: number;
    runs: number;
  }[];
  /** The case itself failed to run (a harness or stack error): counts are partial. */
  error?: string;
}

export interface ChaosReport {
  benchmark: 'chaos';
  date: string;
  scale: Scale;
  seed: number;
  machine: { os: string; cpus: number; cpu: string; node: string; temporal: string };
  durationMs: number;
  cases: CaseReport[];
  total: CaseCounts;
  /** lost = duplicated = stranded = 0 in total, and every case ran. */
  ok: boolean;
  dir: string;
}

const defaultResults = join(__dirname, '..', 'results', 'chaos.json');

/** A breaker set back between cases reaches every worker within its 1 s cache plus the 250 ms report batch. */
const breakerPropagationMs = 3_000;

/** Problem orders printed per case; the results file has them all. */
const maxPrintedProblems = 8;

/** mulberry32: small, seedable, good enough to pick chaos moments. */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** gRPC codes a service retries on: UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED. */
const retriedCodes = new Set([14, 4, 8]);

/** Errors a service retries startOrder on: Temporal unreachable, or the update's long poll cut short. */
function transient(err: unknown): boolean {
  if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError) return true;
  for (let cur: unknown = err; cur; cur = (cur as { cause?: unknown }).cause) {
    if (isGrpcServiceError(cur)) return retriedCodes.has(cur.code);
  }
  const message = err instanceof Error ? err.message : String(err);
  return /UNAVAILABLE|ECONNREFUSED|ECONNRESET|No connection established|Deadline exceeded/i.test(message);
}

function errorText(err: unknown): string {
  const e = err as Error & { cause?: Error };
  const cause = e?.cause?.message ? ` (${e.cause.message})` : '';
  return `${e?.name ?? 'Error'}: ${e?.message ?? String(err)}${cause}`.slice(0, 400);
}

/** Runs the matrix on a stack of its own; resolves with the report (also written to `resultsFile`). */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const log = options.log ?? ((line: string) => console.log(line));
  const seed = options.seed ?? Date.now() % 1_000_000;
  const random = seededRandom(seed);
  const dir = resolve(options.dir ?? join('.tmp', `chaos-${process.pid}`));
  const selected = selectCases(options.cases, options.scale);
  const settleCap = options.settleMs ?? (options.scale === 'quick' ? 120_000 : 180_000);
  const runId = `c${Date.now().toString(36)}`;
  const started = Date.now();
  log(`Chaos matrix (${options.scale}, seed ${seed}): ${selected.map((c) => c.name).join(', ')}`);

  const stack = await ChaosStack.start({ dir, log });
  const reports: CaseReport[] = [];
  try {
    for (const chaosCase of selected) {
      reports.push(await runCase(chaosCase, { stack, scale: options.scale, random, settleCap, runId, dir, log }));
      printCase(reports[reports.length - 1]!, log);
    }
  } finally {
    await stack.stop();
  }

  const total = reports.reduce((sum, r) => addCounts(sum, r.counts), emptyCounts());
  const report: ChaosReport = {
    benchmark: 'chaos',
    date: new Date().toISOString(),
    scale: options.scale,
    seed,
    machine: {
      os: `${osType()} ${release()}`,
      cpus: cpus().length,
      cpu: cpus()[0]?.model ?? 'unknown',
      node: process.version,
      temporal: stack.server.cli.version,
    },
    durationMs: Date.now() - started,
    cases: reports,
    total,
    ok: total.lost === 0 && total.duplicated === 0 && total.stranded === 0 && reports.every((r) => !r.error),
    dir: relative(process.cwd(), dir) || '.',
  };
  log(formatTable(report));
  const file = options.resultsFile === undefined ? defaultResults : options.resultsFile;
  if (file) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
    log(`Results in ${file}; stack logs and problem histories in ${dir}`);
  }
  return report;
}

/** The named cases; none named: the whole matrix (at quick scale, without the cases marked `quick: false`). */
export function selectCases(names: string[] | undefined, scale: Scale = 'full'): ChaosCase[] {
  if (!names || names.length === 0) return allCases.filter((c) => scale === 'full' || c.quick !== false);
  const unknown = names.filter((n) => !allCases.some((c) => c.name === n));
  if (unknown.length > 0) {
    throw new Error(`unknown case(s) ${unknown.join(', ')}; known: ${allCases.map((c) => c.name).join(', ')}`);
  }
  return allCases.filter((c) => names.includes(c.name));
}

interface RunEnv {
  stack: ChaosStack;
  scale: Scale;
  random: () => number;
  settleCap: number;
  runId: string;
  dir: string;
  log: (line: string) => void;
}

async function runCase(chaosCase: ChaosCase, env: RunEnv): Promise<CaseReport> {
  const { stack, log } = env;
  const orders: TrackedOrder[] = [];
  const firstEvent = stack.events.length;
  let seq = 0;
  let fastSeq = 0;
  let customerSeq = 0;
  const started = Date.now();
  log(`\n== ${chaosCase.name}: ${chaosCase.title}`);

  const drive = async (order: TrackedOrder): Promise<StartAnswer> => {
    order.pendingStarts++;
    const deadline = Date.now() + 120_000;
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          const client = order.recorded ? stack.recordedClient : order.fast ? stack.fastClient : stack.client;
          const { charge, answeredBy } = await client.startOrder(order.input);
          const answer: StartAnswer = { ok: true, at: Date.now(), attempts: attempt, charge, answeredBy };
          order.answers.push(answer);
          return answer;
        } catch (err) {
          if (transient(err) && Date.now() < deadline) {
            await sleep(1_000);
            continue;
          }
          const answer: StartAnswer = { ok: false, at: Date.now(), attempts: attempt, error: errorText(err) };
          order.answers.push(answer);
          return answer;
        }
      }
    } finally {
      order.pendingStarts--;
    }
  };

  const settle = async (list: TrackedOrder[], capMs = env.settleCap): Promise<boolean> =>
    pollUntil(
      async () => {
        for (const order of list) {
          const inspection = await inspect(stack, order).catch(() => undefined);
          if (!inspection || !isSettled(order, inspection)) return false;
        }
        return true;
      },
      { timeoutMs: capMs, intervalMs: 1_000 },
    );

  const ctx: CaseContext = {
    scale: env.scale,
    stack,
    random: env.random,
    between: (min, max) => min + Math.floor(env.random() * (max - min + 1)),
    log: (line) => log(`  ${line}`),
    startOrder(options) {
      const order = ctx.trackOrder(options);
      order.firstAnswer = drive(order);
      return order;
    },
    trackOrder({ label, customerId, amount, expect, check, fast }) {
      seq++;
      const orderId = `${env.runId}-${chaosCase.name}-${seq}`;
      // Every other fast-path order records itself first (orderIntents): both ways see every fault.
      const recorded = fast === 'recorded' || (fast === true && fastSeq++ % 2 === 1);
      const order: TrackedOrder = {
        orderId,
        workflowId: orderWorkflowId(orderId),
        label: recorded ? `${label} (recorded)` : label,
        input: {
          orderId,
          customerId: customerId ?? ctx.customer(),
          amount: amount ?? 1_000 + Math.floor(env.random() * 9_000),
          currency: 'EUR',
        },
        startedAt: Date.now(),
        answers: [],
        pendingStarts: 0,
        ...(expect ? { expect } : {}),
        ...(check ? { check } : {}),
        ...(fast ? { fast: true } : {}),
        ...(recorded ? { recorded } : {}),
        firstAnswer: Promise.resolve(undefined as never),
      };
      orders.push(order);
      return order;
    },
    startAgain: (order) => drive(order),
    resetBreakers: () => resetBreakers(stack, (line) => log(line)),
    settle,
    customer() {
      customerSeq++;
      return `cus_${String(((customerSeq - 1) % 50) + 1).padStart(4, '0')}`;
    },
    async stage(order) {
      try {
        return (await within(stack.client.orderStatus(order.orderId), 5_000, undefined))?.stage;
      } catch {
        return undefined;
      }
    },
    async isParked(order) {
      return (await inspect(stack, order).catch(() => undefined))?.parked ?? false;
    },
    async waitFor(what, check, capMs = 60_000) {
      const ok = await pollUntil(() => check().catch(() => false), { timeoutMs: capMs, intervalMs: 250 });
      if (!ok) log(`  (gave up after ${capMs} ms waiting for ${what})`);
      return ok;
    },
  };

  let error: string | undefined;
  try {
    await chaosCase.run(ctx);
  } catch (err) {
    error = errorText(err);
    log(`  case failed to run: ${error}`);
  }
  const chaosEnded = Date.now();
  const settled = await settle(orders);
  const settleMs = Date.now() - chaosEnded;
  if (!settled) log(`  not every order settled within ${env.settleCap} ms`);

  let ledger: LedgerEntry[] = [];
  try {
    ledger = await stack.admin.ledger();
  } catch (err) {
    error ??= `ledger unreadable: ${errorText(err)}`;
  }
  const evaluations: OrderEvaluation[] = [];
  for (const order of orders) evaluations.push(await evaluate(stack, order, ledger));
  const problems: CaseReport['problems'] = [];
  for (const e of evaluations) {
    if (!(e.lost || e.duplicated || e.stranded || e.misreported || e.unexpected)) continue;
    problems.push({ ...e, history: await writeDigest(env.dir, stack, e.workflowId) });
  }
  await cleanUp(stack, orders, log);

  return {
    name: chaosCase.name,
    title: chaosCase.title,
    counts: countOf(evaluations),
    durationMs: Date.now() - started,
    settleMs,
    settled,
    events: stack.events.slice(firstEvent).map((e) => `+${((e.at - started) / 1000).toFixed(1)}s ${e.what}`),
    problems,
    orders: evaluations.map((e) => ({
      label: e.label,
      workflowId: e.workflowId,
      final: e.final,
      effects: e.effects,
      answers: e.answers,
      ...(e.failure !== undefined ? { failure: e.failure } : {}),
      ...(e.historyLength !== undefined ? { history: e.historyLength } : {}),
      runs: e.runs,
    })),
    ...(error ? { error } : {}),
  };
}

async function writeDigest(dir: string, stack: ChaosStack, workflowId: string): Promise<string | undefined> {
  try {
    const lines = await historyDigest(stack.client.temporal.workflow.getHandle(workflowId));
    const file = join(dir, 'problems', `${workflowId}.txt`);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, `${lines.join('\n')}\n`);
    return file;
  } catch {
    return undefined;
  }
}

/**
 * Between cases: open orders are terminated (what is left of a case must not load the next one), faults
 * cleared, sandbox knobs and breakers set back, and the worker count restored.
 */
async function cleanUp(stack: ChaosStack, orders: TrackedOrder[], log: (line: string) => void): Promise<void> {
  for (const order of orders) {
    const handle = stack.client.temporal.workflow.getHandle(order.workflowId);
    await handle.terminate('chaos: case over').catch(() => {});
  }
  await stack.admin.clearFaults();
  await stack.admin.config({ jobMs: 1500, crm: { latencyMs: 0, failureRate: 0 } });
  await resetBreakers(stack, log);
  await stack.workersReady();
}

/**
 * Sets every integration's breaker that is not closed (or counting failures) back to automatic, as an
 * operator would after an incident, and gives the workers time to see it.
 */
export async function resetBreakers(stack: ChaosStack, log: (line: string) => void): Promise<void> {
  let reset = false;
  for (const integration of Object.keys(integrations)) {
    const handle = stack.client.temporal.workflow.getHandle(`control-${integration}`);
    const breaker = async () =>
      (
        await within(
          handle.query<{ breaker: { state: string; consecutiveFailures: number } }>('controlState'),
          10_000,
          undefined,
        )
      )?.breaker;
    try {
      const before = await breaker();
      if (before && (before.state !== 'closed' || before.consecutiveFailures > 0)) {
        await handle.executeUpdate('forceBreaker', { args: [{ mode: 'auto', reason: 'chaos: reset between phases' }] });
        log(`  (${integration} breaker was ${before.state}: set back to auto)`);
        reset = true;
        await pollUntil(async () => (await breaker())?.state === 'closed', { timeoutMs: 10_000 });
      }
    } catch {
      // no control workflow for it (yet): nothing to set back
    }
  }
  // Workers re-read the control state every second and report outcomes every 250 ms: let them see it.
  if (reset) await sleep(breakerPropagationMs);
}

const columns: [string, keyof CaseCounts][] = [
  ['orders', 'orders'],
  ['completed', 'completed'],
  ['compens.', 'compensated'],
  ['failed-unch.', 'failedUncharged'],
  ['parked', 'parked'],
  ['LOST', 'lost'],
  ['DUPLICATED', 'duplicated'],
  ['STRANDED', 'stranded'],
  ['misreported', 'misreported'],
  ['unexpected', 'unexpected'],
  ['max hist.', 'maxHistory'],
];

function printCase(r: CaseReport, log: (line: string) => void): void {
  const c = r.counts;
  log(
    `  ${r.name}: ${c.orders} orders, ${c.completed} completed, ${c.compensated} compensated, ` +
      `${c.failedUncharged} failed-uncharged, ${c.parked} parked; lost ${c.lost}, duplicated ${c.duplicated}, ` +
      `stranded ${c.stranded}, misreported ${c.misreported}, unexpected ${c.unexpected}; ` +
      `max history ${c.maxHistory}; ${(r.durationMs / 1000).toFixed(0)} s` +
      (r.error ? `; ERROR ${r.error}` : ''),
  );
  for (const p of r.problems.slice(0, maxPrintedProblems)) {
    const flags = [
      p.lost && 'LOST',
      p.duplicated && `DUPLICATED ${p.duplicateKeys.join(',')}`,
      p.stranded && 'STRANDED',
      p.misreported && 'MISREPORTED',
      p.unexpected && `unexpected: ${p.unexpected}`,
    ].filter(Boolean);
    log(
      `    ${p.workflowId} [${p.label}] ${p.final} (${p.status}${p.stage ? ` ${p.stage}` : ''}` +
        `${p.parkedOn ? ` on ${p.parkedOn}` : ''}${p.runs > 1 ? `, ${p.runs} runs` : ''}` +
        `${p.failure ? `, failure "${p.failure}"` : ''}) ` +
        `${JSON.stringify(p.effects)} answers: ${p.answers.join(' | ')} -> ${flags.join('; ')}`,
    );
  }
  if (r.problems.length > maxPrintedProblems) {
    log(`    ... and ${r.problems.length - maxPrintedProblems} more (all in the results file)`);
  }
}

export function formatTable(report: ChaosReport): string {
  const head = ['case', ...columns.map(([h]) => h), 'secs'];
  const rows = report.cases.map((r) => [
    r.name + (r.error ? ' (ERROR)' : ''),
    ...columns.map(([, k]) => String(r.counts[k])),
    (r.durationMs / 1000).toFixed(0),
  ]);
  rows.push(['TOTAL', ...columns.map(([, k]) => String(report.total[k])), (report.durationMs / 1000).toFixed(0)]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const verdict = report.ok
    ? 'OK: lost = duplicated = stranded = 0'
    : `BROKEN PROMISES: lost ${report.total.lost}, duplicated ${report.total.duplicated}, stranded ${report.total.stranded}` +
      (report.cases.some((c) => c.error) ? ', and a case failed to run' : '');
  return ['', line(head), ...rows.map(line), '', verdict].join('\n');
}

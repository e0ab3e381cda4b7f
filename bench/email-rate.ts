/**
 * Sustained email sending against a provider rate limit, loopback only:
 * `node --import tsx bench/email-rate.ts`.
 *
 * A Temporal dev server, the sandbox in-process with its email limit set to 20 requests per 2 s (10/s
 * allowed), and real workers: one workflow per email (a background `email.send` activity with the email
 * declaration's options, retried by Temporal), all started at once. Modes, each on a fresh queue and a
 * fresh provider window:
 * - `no limit` (baseline): nothing shapes the traffic; 429s are retried after their Retry-After;
 * - `queue 9/s`: the activity queue's server-side rate (`maxTaskQueueActivitiesPerSecond`) only;
 * - `queue 9/s + adaptive`: plus the worker's adaptive limiter declared at 9/s (evenly spaced calls);
 * - `provider window`: the declaration at the provider's own rate and window (`ratePerSecond: 10`,
 *   `window: 20 per 2 s`), the queue at twice that as the workers set it: the limiter mirrors the
 *   provider's sliding window.
 * - `provider window, backlog`: the same, but the activity worker starts only once every workflow has
 *   scheduled its send: the limiter alone, the supply of activities (workflow starts and tasks through the
 *   dev server) out of the measure.
 * 600 emails per mode (30 provider windows, so the start-up weighs little; `--quick` or BENCH_EMAILS=150:
 * fewer). Reports, end to end, the achieved rate / allowed rate (emails sent / first start to last result:
 * the figure), and, in steady state, `windowUse` (the provider's window filled, averaged over the
 * run from the first accepted send to the last, as the sandbox recorded them; 1 = every window full) and
 * for the backlog mode sent / (worker start to last result). Also 429s, p50/p99 of the HTTP send and of the
 * whole send (start of the workflow to its result, queueing included). BENCH_BEFORE=1 adds the window mode
 * with the limiter as it was before the latency look-back (side by side). Writes
 * bench/results/email-rate.json, prints a table.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker, bundleWorkflowCode } from '@temporalio/worker';
import { devCredentials } from '../src/devserver/dev-credentials';
import { startDevServer } from '../src/devserver/dev-server';
import { email } from '../src/integrations/email/email.integration';
import { defineIntegration } from '../src/integrations/kit/define';
import { AdaptiveLimiter, type CallSignal } from '../src/integrations/runtime/adaptive-limiter';
import { IntegrationEngine } from '../src/integrations/runtime/engine';
import { createLogger } from '../src/observability/logger';
import { startSandbox } from '../src/sandbox/server';
import { installTemporalRuntime } from '../src/workers/runtime';
import { queueRate as queueRateOf } from '../src/workers/worker';
import { quietBundlerLogger } from '../test/support/stack';
import { SandboxAdminClient } from '../src/sandbox/admin-client';
import { sandboxCredentialsOf } from '../src/sandbox/credentials';

const quick = process.argv.includes('--quick');
/** Emails per mode: 600 (30 provider windows, so the start-up weighs little), 150 with `--quick`. */
const emails = Number(process.env.BENCH_EMAILS ?? (quick ? 150 : 600));
const providerLimit = { limit: 20, windowMs: 2_000 };
const allowedPerSecond = providerLimit.limit / (providerLimit.windowMs / 1000);
const queueRate = 9;
/** Each mode stops waiting after this long, whatever is left (twice the time the allowed rate needs). */
const timeBudgetMs = Math.max(90_000, (2 * emails * 1000) / allowedPerSecond);

/** One background send, with the email declaration's activity options, on the queue it is given. */

interface Mode {
  name: string;
  queueRate?: number;
  adaptive?: boolean;
  /** Declared rate of the adaptive limiter. @default queueRate */
  ratePerSecond?: number;
  /** Declare the provider's window (with the provider's rate) instead of an even rate below it. */
  window?: boolean;
  /**
   * Start the activity worker only once every workflow has scheduled its send: the limiter alone on a
   * backlog (the supply of activities through the dev server is out of the measure).
   */
  backlog?: boolean;
  /**
   * The limiter as it was before the latency look-back (a spent-window header judged against this
   * process's count at the answer): only with BENCH_BEFORE=1, to measure the fix side by side.
   */
  before?: boolean;
}

/** The limiter without the attempt's latency: its own count judged at the answer, as before the fix. */
class LimiterBefore extends AdaptiveLimiter {
  override observe(key: string, declaredRate: number, signal: CallSignal): void {
    super.observe(key, declaredRate, { ...signal, latencyMs: 0 });
  }
}

interface ModeResult {
  mode: string;
  emails: number;
  sent: number;
  sentOnce: boolean;
  durationMs: number;
  achievedPerSecond: number;
  allowedPerSecond: number;
  achievedToAllowed: number;
  rateLimited429: number;
  attempts: number;
  httpSendMs: { p50: number; p99: number };
  /** From the first workflow start to the provider's first accepted send. */
  firstSendMs: number;
  /** Accepted sends per second at the provider, first to last (the pacing itself, start-up excluded). */
  providerSidePerSecond: number;
  /**
   * Steady-state use of the provider's window: the sends the provider counted in a window of `windowMs`,
   * averaged over every window start from the first accepted send to one window before the last, divided by
   * the limit (1 = every window full). Unlike first-to-last, a burst at each end does not inflate it.
   */
  windowUse: number;
  /** Backlog mode: from the activity worker's start to the last result (start-up of the sends included). */
  backlogMs?: number;
  /** Backlog mode: time to get every send scheduled before the activity worker started. */
  scheduledAllMs?: number;
  endToEndMs: { p50: number; p99: number };
  limiter?: unknown;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}
const round = (n: number) => Math.round(n * 100) / 100;

/**
 * Mean count of sends in a window [t, t + windowMs) over t from the first send to the last minus one
 * window, divided by `limit` (each send counts for the stretch of window starts that include it).
 */
function windowUse(sendTimes: number[], limit: number, windowMs: number): number {
  const first = sendTimes[0];
  const last = sendTimes.at(-1);
  if (first === undefined || last === undefined || last - first <= windowMs) return NaN;
  const from = first;
  const to = last - windowMs;
  let covered = 0;
  for (const s of sendTimes) covered += Math.max(0, Math.min(s, to) - Math.max(s - windowMs, from));
  return covered / ((to - from) * limit);
}

async function main(): Promise<void> {
  // Errors only: every 429 of the baseline would otherwise print the SDK's "Activity failed" warning.
  const logger = createLogger({ name: 'bench', level: 'error' });
  installTemporalRuntime(logger);
  const credentials = devCredentials();
  const sandbox = await startSandbox({
    credentials: sandboxCredentialsOf((variable) => credentials.sandboxEnv[variable]),
  });
  const env = { ...process.env, NODE_ENV: 'development', ...credentials.integrationEnv(sandbox.url) };
  const admin = new SandboxAdminClient(sandbox.url);
  const devServer = await startDevServer();
  const workflowFile = require.resolve('../test/support/send-email.workflows');
  const nativeConnection = await NativeConnection.connect({ address: devServer.address });
  const connection = await Connection.connect({ address: devServer.address });
  const client = new Client({ connection });
  try {
    const bundle = await bundleWorkflowCode({ workflowsPath: workflowFile, logger: quietBundlerLogger });
    const workflowWorker = await Worker.create({
      connection: nativeConnection,
      taskQueue: 'bench-email-workflows',
      workflowBundle: bundle,
      shutdownGraceTime: '1 second',
    });
    const workflowsRunning = workflowWorker.run();

    const run = async (mode: Mode): Promise<ModeResult> => {
      await admin.config({ emailRateLimit: providerLimit }); // a fresh provider window
      await new Promise((r) => setTimeout(r, providerLimit.windowMs));
      const taskQueue = `bench-email-${mode.name.replace(/\W+/g, '-')}-${Date.now().toString(36)}`;
      // Every call the engine makes is logged once: the HTTP send latency comes from those lines.
      const calls: { durationMs: number; outcome: string }[] = [];
      const destination = new Writable({
        write(chunk: Buffer, _e, done) {
          for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
            const record = JSON.parse(line) as { durationMs?: number; outcome?: string };
            if (record.durationMs !== undefined && record.outcome) {
              calls.push({ durationMs: record.durationMs, outcome: record.outcome });
            }
          }
          done();
        },
      });
      const callLogger = createLogger({ name: 'bench-calls', level: 'info', destination });
      const limiter = mode.adaptive ? (mode.before ? new LimiterBefore() : new AdaptiveLimiter()) : undefined;
      const runtime = new IntegrationEngine({ logger: callLogger, env, limiter });
      const declared = defineIntegration({
        ...email,
        traffic: mode.adaptive
          ? {
              ratePerSecond: mode.ratePerSecond ?? mode.queueRate ?? queueRate,
              // With a window, no more tasks held than its limit: the rest wait in Temporal's queue instead
              // of being refused by the limiter (a wait over 10 s) and retried seconds later (0.64 -> 0.78
              // of allowed in one pair of runs at load 14).
              ...(mode.window
                ? {
                    window: { limit: providerLimit.limit, per: providerLimit.windowMs },
                    concurrency: providerLimit.limit,
                  }
                : {}),
            }
          : undefined,
      });
      const worker = await Worker.create({
        connection: nativeConnection,
        taskQueue,
        activities: runtime.activities(declared),
        maxTaskQueueActivitiesPerSecond: mode.queueRate,
        // As src/workers/worker.ts passes `traffic.concurrency`.
        maxConcurrentActivityTaskExecutions: declared.traffic?.concurrency,
        shutdownGraceTime: '1 second',
      });
      let running: Promise<void> | undefined = mode.backlog ? undefined : worker.run();
      let workerStarted = performance.now();
      let scheduledAllMs: number | undefined;
      const before = (await admin.stats()).emailRateLimited;
      const ledgerBefore = sandbox.ledger().length;
      const started = performance.now();
      const startedAt = Date.now();
      const endToEnd: number[] = [];
      try {
        const prefix = `bench-${Date.now().toString(36)}`;
        const handles = await Promise.all(
          Array.from({ length: emails }, (_, i) =>
            client.workflow.start('sendOneEmail', {
              taskQueue: 'bench-email-workflows',
              workflowId: `${prefix}-${i}`,
              args: [{ taskQueue, key: `${prefix}-${i}`, to: `reader${i}@example.com` }],
            }),
          ),
        );
        if (mode.backlog) {
          // Every send scheduled (a pending activity in each workflow), then the activity worker starts.
          let pending = handles;
          while (pending.length > 0) {
            const still: typeof handles = [];
            for (let i = 0; i < pending.length; i += 50) {
              const described = await Promise.all(pending.slice(i, i + 50).map((h) => h.describe()));
              described.forEach((d, j) => {
                if ((d.raw.pendingActivities?.length ?? 0) === 0) still.push(pending[i + j]!);
              });
            }
            pending = still;
            if (pending.length > 0) await new Promise((r) => setTimeout(r, 1_000));
          }
          scheduledAllMs = performance.now() - started;
          workerStarted = performance.now();
          running = worker.run();
        }
        const deadline = new Promise<void>((r) => setTimeout(r, timeBudgetMs).unref());
        await Promise.race([
          Promise.all(handles.map((h) => h.result().then(() => endToEnd.push(performance.now() - started)))),
          deadline,
        ]);
        await Promise.all(handles.map((h) => h.terminate('bench over').catch(() => undefined)));
      } finally {
        if (running) {
          worker.shutdown();
          await running;
        }
        await runtime.close();
      }
      const durationMs = Math.max(...endToEnd, 0);
      const sentEntries = sandbox.ledger().slice(ledgerBefore);
      const sent = endToEnd.length;
      const http = calls
        .filter((c) => c.outcome === 'ok')
        .map((c) => c.durationMs)
        .sort((a, b) => a - b);
      const e2e = [...endToEnd].sort((a, b) => a - b);
      const achieved = sent / (durationMs / 1000);
      const sendTimes = sentEntries.map((e) => Date.parse(e.at)).sort((a, b) => a - b);
      const firstSend = sendTimes[0] ?? startedAt;
      const lastSend = sendTimes.at(-1) ?? firstSend;
      return {
        mode: mode.name,
        emails,
        sent,
        sentOnce: sentEntries.length === sent && new Set(sentEntries.map((e) => e.idempotencyKey)).size === sent,
        durationMs: Math.round(durationMs),
        achievedPerSecond: round(achieved),
        allowedPerSecond,
        achievedToAllowed: round(achieved / allowedPerSecond),
        rateLimited429: (await admin.stats()).emailRateLimited - before,
        attempts: calls.length,
        httpSendMs: { p50: round(percentile(http, 50)), p99: round(percentile(http, 99)) },
        firstSendMs: firstSend - startedAt,
        providerSidePerSecond: round((sendTimes.length - 1) / Math.max(0.001, (lastSend - firstSend) / 1000)),
        endToEndMs: { p50: Math.round(percentile(e2e, 50)), p99: Math.round(percentile(e2e, 99)) },
        windowUse: round(windowUse(sendTimes, providerLimit.limit, providerLimit.windowMs)),
        ...(mode.backlog
          ? {
              backlogMs: Math.round(durationMs - (workerStarted - started)),
              scheduledAllMs: Math.round(scheduledAllMs ?? 0),
            }
          : {}),
        ...(limiter ? { limiter: limiter.state('email') } : {}),
      };
    };

    const results: ModeResult[] = [];
    for (const mode of [
      { name: 'no limit (baseline)' },
      { name: `queue ${queueRate}/s`, queueRate },
      { name: `queue ${queueRate}/s + adaptive`, queueRate, adaptive: true },
      {
        name: `provider window (${providerLimit.limit} per ${providerLimit.windowMs / 1000} s) + adaptive`,
        ratePerSecond: allowedPerSecond,
        // As src/workers/worker.ts sets it for a declared window: twice the rate (the window paces).
        queueRate: queueRateOf({ ratePerSecond: allowedPerSecond, window: { limit: 1, per: 1 } }),
        adaptive: true,
        window: true,
      },
      ...(process.env.BENCH_BEFORE === '1'
        ? [
            {
              name: `provider window (${providerLimit.limit} per ${providerLimit.windowMs / 1000} s) + adaptive, before the look-back`,
              ratePerSecond: allowedPerSecond,
              queueRate: queueRateOf({ ratePerSecond: allowedPerSecond, window: { limit: 1, per: 1 } }),
              adaptive: true,
              window: true,
              before: true,
            },
          ]
        : []),
      {
        name: `provider window (${providerLimit.limit} per ${providerLimit.windowMs / 1000} s) + adaptive, backlog`,
        ratePerSecond: allowedPerSecond,
        queueRate: queueRateOf({ ratePerSecond: allowedPerSecond, window: { limit: 1, per: 1 } }),
        adaptive: true,
        window: true,
        backlog: true,
      },
    ] satisfies Mode[]) {
      // BENCH_MODES=window,9/s runs only the modes whose name contains one of them (while developing).
      const only = process.env.BENCH_MODES?.split(',');
      if (only && !only.some((o) => mode.name.includes(o))) continue;
      results.push(await run(mode));
      console.log(`${mode.name}: done`);
    }
    workflowWorker.shutdown();
    await workflowsRunning;

    const output = {
      benchmark: 'email-rate',
      date: new Date().toISOString(),
      node: process.version,
      cpu: `${cpus().length} x ${cpus()[0]?.model ?? 'unknown'}`,
      temporal: `${devServer.cli.version} (dev server, in-memory SQLite, loopback)`,
      providerLimit: `${providerLimit.limit} requests per ${providerLimit.windowMs} ms (sliding window)`,
      emails,
      results,
      notes:
        'One workflow per email, all started at once; each sends with a background email.send activity ' +
        '(Temporal retries 429s after Retry-After, jittered). Achieved rate = emails sent / time from the ' +
        'first start to the last result. HTTP send = one attempt as the engine logs it; end-to-end = ' +
        'workflow start to result, queueing behind the rate limit included. 429s counted by the sandbox. ' +
        'first send = first workflow start to the first accepted send; provider-side/s = accepted sends per ' +
        'second from the first to the last as the provider recorded them; windowUse = sends the provider ' +
        'counted per window of its limit, averaged over every window from the first send to the last, / ' +
        'the limit (steady state, 1 = every window full); backlog mode: the activity worker starts once ' +
        'every send is scheduled, backlogMs = its start to the last result.',
    };
    const dir = join(__dirname, 'results');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'email-rate.json'), `${JSON.stringify(output, null, 2)}\n`);
    console.table(
      results.map((r) => ({
        mode: r.mode,
        'sent/total': `${r.sent}/${r.emails}`,
        once: r.sentOnce,
        'rate/s': r.achievedPerSecond,
        'of allowed': `${Math.round(r.achievedToAllowed * 100)} %`,
        '429s': r.rateLimited429,
        'http p50 ms': r.httpSendMs.p50,
        'http p99 ms': r.httpSendMs.p99,
        'e2e p50 ms': r.endToEndMs.p50,
        'e2e p99 ms': r.endToEndMs.p99,
        'first send ms': r.firstSendMs,
        'provider-side/s': r.providerSidePerSecond,
        'window use': r.windowUse,
        'backlog use': r.backlogMs ? round(r.sent / (r.backlogMs / 1000) / allowedPerSecond) : '',
      })),
    );
    console.log(`allowed: ${allowedPerSecond}/s (bench/results/email-rate.json)`);
  } finally {
    await connection.close();
    await nativeConnection.close();
    await devServer.stop();
    await sandbox.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

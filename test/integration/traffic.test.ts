import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger, NativeConnection, Worker } from '@temporalio/worker';
import { createBulkLaneActivities } from '../../src/activities/bulk-lane.activities';
import { BULK_LANE_ACTIVITY, type BulkBatchSummary, type SendInBulkInput } from '../../src/contracts/bulk-lane';
import { SandboxAdminClient } from '../../src/sandbox/admin-client';
import { email } from '../../src/integrations/email/email.integration';
import { defineIntegration } from '../../src/integrations/kit/define';
import { AdaptiveLimiter, type AdaptiveLimiterOptions } from '../../src/integrations/runtime/adaptive-limiter';
import { IntegrationEngine } from '../../src/integrations/runtime/engine';
import { integrationTaskQueue } from '../../src/contracts/task-queues';
import { captureLogs } from '../support/log-capture';
import { sandboxAdmin } from '../support/sandbox';
import { testEnv, uniqueId, withWorkers, type TemporalTestContext } from '../support/temporal';

/**
 * Traffic shaping against the sandbox's email rate limit, made small (10 requests per 2 s, i.e. 5/s):
 * background `email.send` activities on the real dev server, retried by Temporal, paced by a worker's
 * adaptive limiter, counted by the sandbox (429s it answered, emails it sent).
 */

const PROVIDER_LIMIT = { limit: 10, windowMs: 2_000 };
const DEFAULT_EMAIL_RATE_LIMIT = { limit: 100, windowMs: 60_000 };

/**
 * The test workflow: one background send, with the email declaration's activity options but on a queue
 * of the test's own (so the rate the test declares never lingers on the real `integration-email` queue of
 * the shared dev server). Generated at run time so that it is bundled from the project's own modules.
 */
const workflowFile = require.resolve('../support/send-email.workflows');

interface BurstResult {
  durationMs: number;
  limiter: AdaptiveLimiter;
  /** The sandbox's 429 count, sampled every 50 ms, with the limiter's decreases at the same moment. */
  samples: { atMs: number; rateLimited: number; decreases: number; ceiling: number }[];
  rateLimitedDuringRun: number;
  sentOnce: boolean;
}

/**
 * Sends `emails` emails through Temporal as background work, on an activity worker whose queue and
 * limiter are declared at `ratePerSecond`. Returns what the sandbox saw.
 */
async function burst(
  ctx: TemporalTestContext,
  ratePerSecond: number,
  limiterOptions: AdaptiveLimiterOptions = {},
  emails = 40,
): Promise<BurstResult> {
  const taskQueue = uniqueId('traffic-email');
  const declared = defineIntegration({ ...email, traffic: { ratePerSecond } });
  const limiter = new AdaptiveLimiter({ ...limiterOptions, logger: captureLogs().logger });
  const runtime = new IntegrationEngine({ logger: captureLogs().logger, limiter });
  const connection = await NativeConnection.connect({ address: testEnv.temporalAddress });
  const worker = await Worker.create({
    connection,
    namespace: 'default',
    taskQueue,
    activities: runtime.activities(declared),
    maxTaskQueueActivitiesPerSecond: ratePerSecond,
    shutdownGraceTime: '1 second',
  });
  const running = worker.run();
  const keys = Array.from({ length: emails }, (_, i) => uniqueId(`traffic-${i}`));
  const before = (await sandboxAdmin.stats()).emailRateLimited;
  const samples: BurstResult['samples'] = [];
  const started = Date.now();
  let done = false;
  const sampling = (async () => {
    while (!done) {
      const { emailRateLimited } = await sandboxAdmin.stats();
      samples.push({
        atMs: Date.now() - started,
        rateLimited: emailRateLimited - before,
        decreases: limiter.state('email')?.decreases ?? 0,
        ceiling: limiter.state('email')?.ceiling ?? ratePerSecond,
      });
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  try {
    const handles = await Promise.all(
      keys.map((key, i) =>
        ctx.client.workflow.start('sendOneEmail', {
          taskQueue: 'traffic-test-workflows',
          workflowId: key,
          args: [{ taskQueue, key, to: `reader${i}@example.com` }],
        }),
      ),
    );
    await Promise.all(handles.map((h) => h.result()));
  } finally {
    done = true;
    await sampling;
    worker.shutdown();
    await running;
    await runtime.close();
    await connection.close();
  }
  const durationMs = Date.now() - started;
  const after = (await sandboxAdmin.stats()).emailRateLimited;
  const sent = (await sandboxAdmin.ledger()).filter(
    (e) => e.effect === 'email.sent' && keys.includes(e.idempotencyKey ?? ''),
  );
  const sentOnce = sent.length === emails && new Set(sent.map((e) => e.idempotencyKey)).size === emails;
  return { durationMs, limiter, samples, rateLimitedDuringRun: after - before, sentOnce };
}

describe('traffic shaping', () => {
  beforeAll(async () => {
    await sandboxAdmin.config({ emailRateLimit: PROVIDER_LIMIT });
  });
  afterAll(async () => {
    await sandboxAdmin.config({ emailRateLimit: DEFAULT_EMAIL_RATE_LIMIT });
  });

  /** Only the test workflow's worker runs beside the burst's own activity worker. */
  const run = <T>(fn: (ctx: TemporalTestContext) => Promise<T>) =>
    withWorkers(fn, {
      integrations: [],
      workflows: false,
      testWorkflows: { path: workflowFile, taskQueue: 'traffic-test-workflows' },
    });

  it("gives the email queue's worker Temporal's queue-wide activity rate from the declaration", async () => {
    await withWorkers(
      ({ workers }) => {
        const worker = workers.find((w) => w.options.taskQueue === integrationTaskQueue('email'))!;
        expect(email.traffic?.ratePerSecond).toBe(100 / 60);
        // The provider's window is declared: each process mirrors it, the queue only bounds a fleet (2x).
        expect(email.traffic?.window).toEqual({ limit: 100, per: '1 minute' });
        expect(worker.options.maxTaskQueueActivitiesPerSecond).toBeCloseTo((2 * 100) / 60, 9);
        return Promise.resolve();
      },
      { integrations: ['email'], workflows: false },
    );
  });

  it('paces a burst of 40 background sends just below the provider limit: no 429 reaches it, each email is sent once', async () => {
    const result = await run((ctx) => burst(ctx, 4));
    console.log(
      `40 emails at a declared 4/s (limit 5/s): ${result.durationMs} ms, ${result.rateLimitedDuringRun} 429s`,
    );
    expect(result.rateLimitedDuringRun).toBe(0);
    expect(result.limiter.state('email')).toMatchObject({ decreases: 0, rate: 4 });
    expect(result.sentOnce).toBe(true);
    // Paced, not bursted: 40 calls at 4/s take about 10 s.
    expect(result.durationMs).toBeGreaterThan(9_000);
  });

  it('declared above the limit: the spent-window headers lower the rate before any 429, none follow, each email is sent once', async () => {
    const result = await run((ctx) => burst(ctx, 10));
    const firstCut = result.samples.find((s) => s.decreases > 0);
    const before = firstCut?.rateLimited ?? 0;
    console.log(
      `40 emails declared at 10/s (limit 5/s): ${result.durationMs} ms, ${result.rateLimitedDuringRun} 429s ` +
        `(${before} before the first cut); limiter ${JSON.stringify(result.limiter.state('email'))}`,
    );
    // The provider said the window was spent (x-ratelimit-remaining: 0): the rate came down...
    expect(firstCut).toBeDefined();
    expect(result.limiter.state('email')!.ceiling).toBeLessThan(
      PROVIDER_LIMIT.limit / (PROVIDER_LIMIT.windowMs / 1000),
    );
    // ...and from the first cut to the end of the run, no 429 reached the provider.
    expect(result.rateLimitedDuringRun).toBe(before);
    expect(result.sentOnce).toBe(true);
  });

  it("shares one worker process's mirror of the provider's window between the bulk lane's activity and the endpoint's own: 30 lane items and 30 single sends, no 429, never more than the limit in a window", async () => {
    // The lane's queue (`integration-email-bulk`) and the integration's own are served by the same process
    // with activities of one engine (src/workers/worker.ts): both take their slots from one window.
    const declared = defineIntegration({
      ...email,
      traffic: { ratePerSecond: 5, window: { limit: PROVIDER_LIMIT.limit, per: PROVIDER_LIMIT.windowMs } },
    });
    const limiter = new AdaptiveLimiter({ logger: captureLogs().logger });
    const runtime = new IntegrationEngine({ logger: captureLogs().logger, limiter });
    const lane = createBulkLaneActivities(runtime, declared)[BULK_LANE_ACTIVITY];
    const send = runtime.activities(declared).emailSend!;
    const batchId = uniqueId('shared-window');
    const mock = () =>
      new MockActivityEnvironment(
        { attempt: 1, workflowExecution: { workflowId: `bulk-${batchId}`, runId: 'run-1' } },
        { logger: new DefaultLogger('ERROR') },
      );
    const input: SendInBulkInput = {
      integration: 'email',
      endpoint: 'send',
      batchId,
      batchIndex: 0,
      items: Array.from({ length: 30 }, (_, i) => ({
        key: `item-${i}`,
        body: { to: `lane${i}@example.com`, subject: 'lane', body: 'shared window' },
      })),
      concurrency: 10,
      write: true,
      budgetMs: 600_000,
    };
    const keys = Array.from({ length: 30 }, (_, i) => uniqueId(`shared-single-${i}`));
    const admin = new SandboxAdminClient(testEnv.sandboxUrl);
    const before = (await sandboxAdmin.stats()).emailRateLimited;
    const ledgerBefore = (await admin.ledger()).length;
    // The provider's window starts empty (the tests before used it).
    await new Promise((r) => setTimeout(r, PROVIDER_LIMIT.windowMs));
    try {
      const [summary] = await Promise.all([
        mock().run<[SendInBulkInput], BulkBatchSummary, typeof lane>(lane, input),
        ...keys.map((key, i) =>
          mock().run(send, { key, body: { to: `single${i}@example.com`, subject: 'single', body: 'shared window' } }),
        ),
      ]);
      expect(summary.succeeded).toBe(30);
    } finally {
      await runtime.close();
    }
    const sent = (await admin.ledger()).slice(ledgerBefore).filter((e) => e.effect === 'email.sent');
    const at = sent.map((e) => Date.parse(e.at)).sort((a, b) => a - b);
    // The most sends the provider counted in any window (a window ending at each send).
    const busiest = Math.max(...at.map((t) => at.filter((u) => u > t - PROVIDER_LIMIT.windowMs && u <= t).length));
    console.log(
      `lane + single sends, one window of ${PROVIDER_LIMIT.limit}: ${sent.length} sent, busiest window ${busiest}`,
    );
    expect(sent).toHaveLength(60);
    expect(busiest).toBeLessThanOrEqual(PROVIDER_LIMIT.limit);
    expect((await sandboxAdmin.stats()).emailRateLimited - before).toBe(0);
  });

  it('declared above the limit, with only 429s to go by: the 429s lower the rate until it fits, then stop, each of 60 emails is sent once', async () => {
    // As for a provider that sends no rate-limit headers: only its 429s (with Retry-After) say "too fast".
    const result = await run((ctx) => burst(ctx, 10, { rateLimitHeaders: false }, 60));
    const limitPerSecond = PROVIDER_LIMIT.limit / (PROVIDER_LIMIT.windowMs / 1000);
    const fitted = result.samples.find((s) => s.ceiling < limitPerSecond);
    console.log(
      `60 emails declared at 10/s, 429s only: ${result.durationMs} ms, ${result.rateLimitedDuringRun} 429s, ` +
        `rate fitted under the limit after ${fitted?.atMs} ms with ${fitted?.rateLimited} 429s; ` +
        `limiter ${JSON.stringify(result.limiter.state('email'))}`,
    );
    // The first 429 cut the rate (each episode of 429s is one cut)...
    const first429 = result.samples.find((s) => s.rateLimited > 0);
    expect(first429).toBeDefined();
    expect(result.limiter.state('email')!.decreases).toBeGreaterThanOrEqual(1);
    // ...the cuts brought recovery's ceiling under the provider's limit during the run...
    expect(fitted).toBeDefined();
    // ...after which no further 429 reached the provider; and Temporal's retries sent every email once.
    expect(result.rateLimitedDuringRun).toBe(fitted!.rateLimited);
    expect(result.sentOnce).toBe(true);
  });
});

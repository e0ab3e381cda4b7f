import { Queue, UnrecoverableError, Worker, type Job, type RedisOptions } from 'bullmq';
import type { Logger } from '../observability/logger';
import type { WebhookEventInput } from '../workflows/process-webhook-event.workflow';
import type { DataConverter } from '@temporalio/common';
import type { StoredValue } from '../codec/stored-payloads';
import { noOutboxStats, startStored, storedEvent, type EventOutbox, type OutboxStats } from './outbox';
import { RelayPacer } from './relay-pacer';
import type { StartOutcome } from './temporal-starter';

/**
 * The Redis outbox for verified webhook events: the seeds' own design (verify, enqueue, acknowledge, process
 * asynchronously), with BullMQ as the queue and Temporal as the processing. The receiver acknowledges once
 * BullMQ's `Queue.add` returned (one Lua script in Redis, job ID = the event's workflow ID); a relay in the
 * same process (a BullMQ worker) starts `processWebhookEvent` with that workflow ID for each job.
 *
 * - Durability is Redis's: with `appendonly no` (this machine's Redis) an acknowledged event lives in Redis's
 *   memory until the next RDB snapshot, and a Redis crash or restart before then loses it. Production wants
 *   `appendonly yes` with `appendfsync everysec` (up to a second lost on a host crash) or `always`; the outbox
 *   warns at start when AOF is off. The PostgreSQL outbox (src/webhooks/outbox.ts) is durable at the 2xx.
 * - Nothing is dropped by the relay: a start Temporal cannot take now (unreachable, overloaded) is retried
 *   without an attempt limit, with capped exponential backoff; a relay that dies holding jobs leaves them to
 *   BullMQ's stalled-job recovery (any relay on the same queue and prefix takes them over), and stalls are
 *   never counted against a job. A start Temporal refuses for good (bad input, a missing namespace) parks the
 *   job in the queue's failed set for an operator (logged `webhook.outbox_parked`, counted in `parked`,
 *   {@link RedisWebhookOutbox.retryParked} re-queues them); the other jobs go on meanwhile.
 * - Duplicates are processed once: a redelivery while the job is in Redis is not added again (BullMQ's job-ID
 *   dedup); one after it was relayed is queued again and its start finds the workflow ID taken
 *   (`REJECT_DUPLICATE`), which the relay counts as done.
 * - The job holds the event as the workflow input, through the receiver's payload codecs: encrypted like
 *   the history when payload encryption is on (src/codec/stored-payloads.ts).
 * - The relay is paced by this receiver's load (src/webhooks/relay-pacer.ts): while enqueues are in flight
 *   (or ended less than `relayQuietMs` ago) a job it took waits before its start, so its Temporal starts do not
 *   take the CPU the acknowledgements wait for; each waits at most `relayMaxDeferMs` after it was enqueued
 *   (default 1 s), so under constant load everything is still started, at most that much later. A waiting job
 *   is an active job like one being started: a relay that dies leaves it to another.
 */
export interface RedisOutboxOptions {
  /** `redis://[user:password@]host:port[/db]` or `rediss://`; may carry a password: never logged. */
  url: string;
  /** Key prefix of the queue's keys, its own per deployment. @default di-webhooks */
  prefix?: string;
  /** @default webhook-outbox */
  queueName?: string;
  /** Starts in flight at once. @default 32 */
  concurrency?: number;
  /** First retry delay of a start Temporal could not take; doubled each time. @default 200 ms */
  retryBaseMs?: number;
  /** The retry delay's cap (retries never stop). @default 30000 ms */
  retryMaxMs?: number;
  /** A relay holding a job renews its lock; another relay takes the job over this long after it died. @default 30000 ms */
  lockDurationMs?: number;
  /** How often a relay looks for jobs whose relay died. @default 30000 ms */
  stalledIntervalMs?: number;
  /**
   * Longest time a job waits, from its enqueue, for a quiet moment of this receiver before its start (the
   * relay yields to the acknowledgements while enqueues go on); 0: start at once. @default 1000 ms
   */
  relayMaxDeferMs?: number;
  /** The receiver is quiet once no enqueue was in flight for this long. @default 50 ms */
  relayQuietMs?: number;
  /** The receiver's payload codecs (the workers'): jobs are stored through them. @default plain */
  dataConverter?: DataConverter;
  logger: Logger;
}

/** Attempts are unbounded in practice (BullMQ wants a number): 2^31 - 1 retries at a 30 s cap is two thousand years. */
const unbounded = 2 ** 31 - 1;

/** ioredis options from a `redis://` URL (BullMQ takes options, not URLs). */
export function redisConnection(url: string): RedisOptions {
  const u = new URL(url);
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new Error('expected a redis:// or rediss:// URL');
  const db = u.pathname.replace(/^\//, '');
  return {
    host: u.hostname || '127.0.0.1',
    port: Number(u.port || 6379),
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(db ? { db: Number(db) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
  };
}

export class RedisWebhookOutbox implements EventOutbox {
  private readonly queue: Queue;
  private worker?: Worker;
  private readonly connection: ReturnType<typeof redisConnection>;
  private readonly prefix: string;
  private readonly queueName: string;
  private readonly counts = noOutboxStats();
  private readonly pacer: RelayPacer;

  constructor(private readonly options: RedisOutboxOptions) {
    this.pacer = new RelayPacer({ maxDeferMs: options.relayMaxDeferMs, quietMs: options.relayQuietMs });
    this.connection = redisConnection(options.url);
    this.prefix = options.prefix ?? 'di-webhooks';
    this.queueName = options.queueName ?? 'webhook-outbox';
    // The request path fails fast while Redis is down (a 503 the sender retries) instead of queueing commands.
    this.queue = new Queue(this.queueName, {
      connection: { ...this.connection, enableOfflineQueue: false },
      prefix: this.prefix,
    });
    this.queue.on('error', (err) => options.logger.warn({ error: err.message }, 'webhook outbox: Redis error'));
  }

  /** Waits for Redis and warns when its persistence does not make an acknowledged event survive a restart. */
  async ensureSchema(): Promise<void> {
    await this.queue.waitUntilReady();
    const client = await this.queue.client;
    // INFO, not CONFIG GET: managed Redis often disables CONFIG, never INFO.
    const aof = /^aof_enabled:(\d)/m.exec(await client.info())?.[1];
    if (aof === undefined) {
      this.options.logger.warn(
        { event: 'webhook.outbox_durability_unknown' },
        'webhook outbox: Redis does not report aof_enabled; make sure appendonly is yes',
      );
    } else if (aof !== '1') {
      this.options.logger.warn(
        { event: 'webhook.outbox_not_durable', appendonly: 'no' },
        'webhook outbox: Redis runs with appendonly no: acknowledged events not yet relayed are lost if Redis restarts; ' +
          'set appendonly yes (appendfsync everysec or always), or use a postgres:// WEBHOOK_OUTBOX_URL',
      );
    }
  }

  async put(event: WebhookEventInput, workflowId: string): Promise<StartOutcome> {
    this.pacer.enter();
    try {
      await this.queue.add('webhook', await storedEvent(this.options.dataConverter, event), {
        jobId: workflowId,
        attempts: unbounded,
        backoff: { type: 'capped' },
        removeOnComplete: true,
        removeOnFail: false,
      });
      this.counts.stored += 1;
      return { kind: 'started', workflowId };
    } catch (err) {
      return { kind: 'unavailable', workflowId, error: `webhook outbox: ${(err as Error).message}` };
    } finally {
      this.pacer.leave();
    }
  }

  startRelay(start: (event: WebhookEventInput) => Promise<StartOutcome>): void {
    if (this.worker) return;
    const base = this.options.retryBaseMs ?? 200;
    const cap = this.options.retryMaxMs ?? 30_000;
    const { logger } = this.options;
    this.worker = new Worker(
      this.queueName,
      async (job: Job<StoredValue>) => {
        // Yields to the acknowledgements while this receiver enqueues, for a bounded time (see RelayPacer).
        await this.pacer.wait(job.timestamp);
        const outcome = await startStored(this.options.dataConverter, job.data, String(job.id), start);
        switch (outcome.kind) {
          case 'started':
            this.counts.relayed += 1;
            return;
          case 'duplicate':
            this.counts.relayDuplicates += 1;
            return;
          case 'unavailable':
            this.counts.relayFailures += 1;
            throw new Error(outcome.error);
          case 'failed':
            this.counts.relayFailures += 1;
            throw new UnrecoverableError(outcome.error);
        }
      },
      {
        connection: { ...this.connection, maxRetriesPerRequest: null },
        prefix: this.prefix,
        concurrency: this.options.concurrency ?? 32,
        lockDuration: this.options.lockDurationMs ?? 30_000,
        stalledInterval: this.options.stalledIntervalMs ?? 30_000,
        // A job whose relay died is taken over however often that happens: never failed for stalling.
        maxStalledCount: unbounded,
        settings: {
          backoffStrategy: (attemptsMade: number) => Math.min(cap, base * 2 ** Math.max(0, attemptsMade - 1)),
        },
      },
    );
    this.worker.on('failed', (job, err) => {
      if (!job) return;
      if (err instanceof UnrecoverableError || err.name === 'UnrecoverableError') {
        this.counts.parked += 1;
        logger.error(
          { event: 'webhook.outbox_parked', workflowId: job.id, attempts: job.attemptsMade, error: err.message },
          'webhook outbox: Temporal refused the start for good; the event is parked in the failed set for an operator',
        );
      } else {
        logger.warn(
          { event: 'webhook.outbox_relay_failed', workflowId: job.id, attempts: job.attemptsMade, error: err.message },
          'webhook outbox: start not accepted; retried with backoff',
        );
      }
    });
    this.worker.on('error', (err) => logger.warn({ error: err.message }, 'webhook outbox: relay Redis error'));
  }

  /** Events acknowledged and not relayed yet (waiting, retrying or being started); parked ones excluded. */
  async pending(): Promise<number> {
    const counts = await this.queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'paused');
    return Object.values(counts).reduce((a, b) => a + b, 0);
  }

  /** Events parked after a permanent refusal, waiting for an operator. */
  async parkedCount(): Promise<number> {
    return this.queue.getFailedCount();
  }

  /** Re-queues the parked events (after the cause was fixed). */
  async retryParked(): Promise<void> {
    await this.queue.retryJobs({ state: 'failed' });
  }

  stats(): OutboxStats {
    return { ...this.counts };
  }

  /** The relay's pacing: starts that waited for a quiet moment, and how many of them went at their bound. */
  pacing(): { maxDeferMs: number; deferred: number; deferBoundReached: number; waiting: number } {
    const { maxDeferMs, deferred, deferBoundReached } = this.pacer;
    return { maxDeferMs, deferred, deferBoundReached, waiting: this.pacer.waiting() };
  }

  /**
   * Stops the relay, then the producer. `force`: stop at once, leaving the jobs being started to the
   * stalled-job recovery of another relay (what a crash does; tests).
   */
  async close(options: { force?: boolean } = {}): Promise<void> {
    // Graceful: the jobs waiting for a quiet moment are started now; forced: left in Redis, as a crash leaves them.
    this.pacer.close({ abandon: options.force ?? false });
    await this.worker?.close(options.force ?? false);
    await this.queue.close();
  }

  /** Removes every key of this queue (tests and benchmarks on their own prefix only). */
  async obliterate(): Promise<void> {
    await this.queue.obliterate({ force: true });
  }
}

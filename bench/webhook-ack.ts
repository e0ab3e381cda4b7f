/**
 * Acknowledgement latency of the webhook receiver under concurrent load, loopback only:
 * `node --import tsx bench/webhook-ack.ts`.
 *
 * Five modes in one run, in interleaved rounds, same server code (src/webhooks/server.ts), same signed requests, the same
 * verification and validation before the hand-off:
 * - `verify-only`: answers 200 right after verification (the floor: no hand-off at all);
 * - `BullMQ enqueue` (baseline, the seeds' design): `Queue.add` of the verified event, job ID = the
 *   event's workflow ID, on the Redis at 127.0.0.1:6379 under the key prefix `di-bench-hook` (removed after);
 * - `Temporal start`: a durable `processWebhookEvent` start in the request (no worker runs: a start is
 *   acknowledged once Temporal persisted it, which is what the 2xx promises);
 * - `PostgreSQL outbox`: one INSERT into a durable local outbox (database `di_hook_bench` on
 *   127.0.0.1:5432, dropped after), relayed into Temporal by the receiver; the run waits until every
 *   stored event became a workflow start;
 * - `Redis outbox`: the seeds' design carried into Temporal (src/webhooks/redis-outbox.ts): the same
 *   `Queue.add` as the baseline (job ID = workflow ID, key prefix `di-bench-hook-outbox`, removed after),
 *   and the receiver's relay (a BullMQ worker) starts each job's workflow; the run waits until all are started.
 *   The relay yields to the acknowledgements (src/webhooks/relay-pacer.ts): while the receiver enqueues, a start
 *   waits for a quiet moment, at most 1 s after its enqueue (a round here is shorter: its starts run right after it);
 *   `BENCH_RELAY_MAX_DEFER_MS=0` runs it unpaced, as before, to compare.
 * Both outboxes' relays run during their own rounds (in the receiver's process, as in production) and drain
 * before the next mode runs, so their work counts against their own latencies only.
 * Writes bench/results/webhook-ack.json and prints a table.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Queue } from 'bullmq';
import { benchPgServer, dropBenchTable, ensureBenchDatabase } from './support/database';
import { Pool } from 'undici';
import { startDevServer } from '../src/devserver/dev-server';
import { createLogger } from '../src/observability/logger';
import { standardSignature, turbodocxSignature } from '../src/sandbox/webhooks';
import { installTemporalRuntime } from '../src/workers/runtime';
import { documentsWebhooks } from '../src/webhooks/providers';
import { WebhookOutbox, type EventOutbox } from '../src/webhooks/outbox';
import { RedisWebhookOutbox } from '../src/webhooks/redis-outbox';
import { startReceiver, type Receiver } from '../src/webhooks/server';

const requests = Number(process.env.BENCH_REQUESTS ?? 2000);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 32);
const warmup = 100;
/** Each mode's requests are sent in this many rounds, the modes taking turns. */
const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
/** Each mode stops after this long, whatever is left. */
const timeBudgetMs = 120_000;
const secret = `whsec_${randomBytes(24).toString('base64')}`;
const redis = { host: '127.0.0.1', port: 6379 };
const redisOutboxPrefix = 'di-bench-hook-outbox';
const pgDatabase = 'di_hook_bench';

interface Signed {
  body: string;
  headers: Record<string, string>;
}

function signedRequests(count: number): Signed[] {
  const timestamp = Math.floor(Date.now() / 1000);
  return Array.from({ length: count }, () => {
    const jobId = `job_${randomBytes(8).toString('hex')}`;
    const id = `evt_${randomBytes(12).toString('hex')}`;
    const body = JSON.stringify({
      id,
      type: 'document.completed',
      createdAt: new Date().toISOString(),
      data: { jobId, documentUrl: `https://documents.example.com/files/${jobId}.pdf` },
    });
    return {
      body,
      headers: {
        'content-type': 'application/json',
        'webhook-id': id,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': standardSignature(secret, id, timestamp, body),
        'x-turbodocx-signature': turbodocxSignature(secret, body),
      },
    };
  });
}

interface ModeResult {
  mode: string;
  requests: number;
  completed: number;
  non2xx: number;
  errors: number;
  durationMs: number;
  throughputPerSecond: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

const round = (n: number) => Math.round(n * 100) / 100;

interface RawRun {
  latencies: number[];
  requests: number;
  non2xx: number;
  errors: number;
  durationMs: number;
}

async function load(mode: string, receiver: Receiver, batch: Signed[]): Promise<ModeResult> {
  return summarise(mode, [await loadRaw(receiver, batch)]);
}

/** Several rounds of one mode as one result: latencies pooled, durations added. */
function summarise(mode: string, runs: RawRun[]): ModeResult {
  const latencies = runs.flatMap((r) => r.latencies);
  const durationMs = runs.reduce((a, r) => a + r.durationMs, 0);
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    mode,
    requests: runs.reduce((a, r) => a + r.requests, 0),
    completed: latencies.length,
    non2xx: runs.reduce((a, r) => a + r.non2xx, 0),
    errors: runs.reduce((a, r) => a + r.errors, 0),
    durationMs: Math.round(durationMs),
    throughputPerSecond: Math.round((latencies.length / durationMs) * 1000),
    latencyMs: {
      p50: round(percentile(sorted, 50)),
      p90: round(percentile(sorted, 90)),
      p99: round(percentile(sorted, 99)),
      max: round(sorted.at(-1) ?? NaN),
      mean: round(sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length)),
    },
  };
}

async function loadRaw(receiver: Receiver, batch: Signed[]): Promise<RawRun> {
  const pool = new Pool(receiver.url, { connections: concurrency, pipelining: 1 });
  const latencies: number[] = [];
  let next = 0;
  let non2xx = 0;
  let errors = 0;
  const started = performance.now();
  const deadline = started + timeBudgetMs;
  const worker = async () => {
    while (next < batch.length && performance.now() < deadline) {
      const request = batch[next];
      next += 1;
      if (!request) break;
      const t0 = performance.now();
      try {
        const res = await pool.request({
          method: 'POST',
          path: '/webhooks/documents',
          headers: request.headers,
          body: request.body,
        });
        await res.body.dump();
        latencies.push(performance.now() - t0);
        if (res.statusCode < 200 || res.statusCode >= 300) non2xx += 1;
      } catch {
        errors += 1;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const durationMs = performance.now() - started;
  await pool.close();
  return { latencies, requests: batch.length, non2xx, errors, durationMs };
}

async function main(): Promise<void> {
  const logger = createLogger({ name: 'bench', level: 'warn' });
  installTemporalRuntime(logger);
  const devServer = await startDevServer();
  const common = {
    providers: [{ definition: documentsWebhooks, secrets: [secret] }],
    temporal: { address: devServer.address, taskQueue: 'bench-webhook-ack-no-worker' },
    logger,
  };
  const queue = new Queue('webhooks', { connection: redis, prefix: 'di-bench-hook' });
  const outboxTable = `webhook_outbox_${Date.now().toString(36)}`;
  const relayBatch = process.env.BENCH_RELAY_BATCH ? Number(process.env.BENCH_RELAY_BATCH) : undefined;
  const outbox = new WebhookOutbox({
    url: await ensureBenchDatabase(pgDatabase),
    table: outboxTable,
    batchSize: relayBatch,
    logger,
  });
  await outbox.ensureSchema();
  // BENCH_RELAY_MAX_DEFER_MS=0: the relay unpaced (each start at once, as before the pacing), to compare.
  const relayMaxDeferMs = process.env.BENCH_RELAY_MAX_DEFER_MS
    ? Number(process.env.BENCH_RELAY_MAX_DEFER_MS)
    : undefined;
  const redisOutbox = new RedisWebhookOutbox({
    url: `redis://${redis.host}:${redis.port}`,
    prefix: redisOutboxPrefix,
    relayMaxDeferMs,
    logger: createLogger({ name: 'bench', level: 'error' }), // its AOF warning is in the notes below
  });
  await redisOutbox.ensureSchema();
  // Diagnostic, not a deployment: the same Redis outbox with its relay's Temporal starts held until its round
  // ended (then drained as the others are). Its gap to the Redis outbox is what the relay's starts cost the
  // acknowledgements on these 2 cores; its gap to the baseline is the relay's BullMQ worker alone.
  let openGate = () => {};
  let gate = Promise.resolve();
  const heldOutbox = new RedisWebhookOutbox({
    url: `redis://${redis.host}:${redis.port}`,
    prefix: `${redisOutboxPrefix}-held`,
    logger: createLogger({ name: 'bench', level: 'error' }),
  });
  const held: EventOutbox = {
    ensureSchema: () => heldOutbox.ensureSchema(),
    put: (event, workflowId) => heldOutbox.put(event, workflowId),
    startRelay: (start) =>
      heldOutbox.startRelay(async (event) => {
        await gate;
        return start(event);
      }),
    pending: () => heldOutbox.pending(),
    stats: () => heldOutbox.stats(),
    close: () => heldOutbox.close(),
  };
  await held.ensureSchema();
  const verifyOnlyReceiver = await startReceiver({ ...common, verifyOnly: true });
  const bullReceiver = await startReceiver({
    ...common,
    handOff: async (event, workflowId) => {
      await queue.add('webhook', event, { jobId: workflowId, removeOnComplete: true });
      return { kind: 'started', workflowId };
    },
  });
  const temporalReceiver = await startReceiver(common);
  const outboxReceiver = await startReceiver({ ...common, outbox });
  const redisOutboxReceiver = await startReceiver({ ...common, outbox: redisOutbox });
  const heldReceiver = await startReceiver({ ...common, outbox: held });
  const modes: [string, Receiver][] = [
    ['verify-only (floor)', verifyOnlyReceiver],
    ['verify + BullMQ enqueue (baseline)', bullReceiver],
    ['verify + Temporal start', temporalReceiver],
    ['verify + PostgreSQL outbox, relayed to Temporal', outboxReceiver],
    ['verify + Redis outbox (BullMQ), relayed to Temporal', redisOutboxReceiver],
    ['diagnostic: Redis outbox, its relay held until the round ended', heldReceiver],
  ];
  const outboxOf = new Map<Receiver, EventOutbox>([
    [outboxReceiver, outbox],
    [redisOutboxReceiver, redisOutbox],
    [heldReceiver, held],
  ]);
  const drainTimes: number[] = [];
  const drained = async (o: EventOutbox) => {
    const drainStarted = performance.now();
    while ((await o.pending()) > 0 && performance.now() - drainStarted < timeBudgetMs) {
      await new Promise((r) => setTimeout(r, 50));
    }
    drainTimes.push(Math.round(performance.now() - drainStarted));
  };
  try {
    // Warm-up (JIT, the receivers' connections), not measured.
    for (const [, receiver] of modes) await load('warmup', receiver, signedRequests(warmup));

    // Interleaved rounds (the machine's load drifts); after each outbox round its relay drains before the
    // next mode runs, so the relay's work counts against that outbox's own latencies only.
    const raw = modes.map((): RawRun[] => []);
    for (let round = 0; round < rounds; round++) {
      for (const [i, [, receiver]] of modes.entries()) {
        if (receiver === heldReceiver) gate = new Promise<void>((r) => (openGate = r));
        raw[i]!.push(await loadRaw(receiver, signedRequests(Math.ceil(requests / rounds))));
        if (receiver === heldReceiver) openGate();
        const o = outboxOf.get(receiver);
        if (o) await drained(o);
      }
    }
    const results = modes.map(([name], i) => summarise(name, raw[i]!));
    const [, bull, temporal, outboxed, redisOutboxed, heldOutboxed] = results as [
      ModeResult,
      ModeResult,
      ModeResult,
      ModeResult,
      ModeResult,
      ModeResult,
    ];
    const stats = temporalReceiver.stats();
    if (stats.accepted !== warmup + temporal.completed - temporal.non2xx) {
      throw new Error(`expected every acknowledged request to be a started workflow, got ${JSON.stringify(stats)}`);
    }
    // Durable and complete: every event the outbox acknowledged became a workflow start, once. A start that
    // timed out on the relay's side while Temporal persisted it is retried and found started (a duplicate):
    // still one workflow. Any other duplicate would mean an event stored twice, which the IDs rule out.
    const relayDrainMs = Math.max(...drainTimes);
    const relay = outbox.stats();
    if (
      relay.stored !== warmup + outboxed.completed - outboxed.non2xx ||
      relay.relayed + relay.relayDuplicates !== relay.stored
    ) {
      throw new Error(`expected every stored event relayed once, got ${JSON.stringify(relay)}`);
    }
    // Every job the Redis outbox acknowledged started once (the relay's own count; none parked).
    const redisRelay = redisOutbox.stats();
    if (
      redisRelay.stored !== warmup + redisOutboxed.completed - redisOutboxed.non2xx ||
      redisRelay.relayed + redisRelay.relayDuplicates !== redisRelay.stored ||
      redisRelay.parked !== 0
    ) {
      throw new Error(`expected every Redis outbox job relayed once, got ${JSON.stringify(redisRelay)}`);
    }

    const ratio = (r: ModeResult) => ({
      p50: round(r.latencyMs.p50 / bull.latencyMs.p50),
      p99: round(r.latencyMs.p99 / bull.latencyMs.p99),
    });
    const output = {
      benchmark: 'webhook-ack',
      date: new Date().toISOString(),
      node: process.version,
      cpu: `${cpus().length} x ${cpus()[0]?.model ?? 'unknown'}`,
      temporal: `${devServer.cli.version} (dev server, in-memory SQLite, loopback)`,
      requests,
      rounds,
      concurrency,
      warmupPerMode: warmup,
      results,
      ratioTemporalToBaseline: ratio(temporal),
      ratioOutboxToBaseline: ratio(outboxed),
      ratioRedisOutboxToBaseline: ratio(redisOutboxed),
      ratioRedisOutboxRelayHeldToBaseline: ratio(heldOutboxed),
      outboxRelay: { ...relay, longestDrainAfterARoundMs: relayDrainMs },
      redisOutboxRelay: redisRelay,
      // Starts the relay held while the receiver was busy, and how many went at the bound rather than when quiet.
      redisOutboxPacing: redisOutbox.pacing(),
      notes:
        'One signed document.completed event per request (unique IDs), both signature schemes checked. ' +
        'Latency = request sent to response fully read, measured by the client. Baseline = BullMQ Queue.add ' +
        '(Redis as configured here, its own persistence). No worker runs: a Temporal 2xx means Temporal ' +
        'persisted the workflow start; an outbox 2xx means PostgreSQL committed the row (synchronous_commit ' +
        'as configured), and the relay then started every stored event (outboxRelay). A Redis outbox 2xx means ' +
        'BullMQ added the job in Redis (as durable as its persistence: this machine runs appendonly no), and ' +
        'its relay started every job (redisOutboxRelay). Receiver logs at warn.',
    };
    const dir = join(__dirname, 'results');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'webhook-ack.json'), `${JSON.stringify(output, null, 2)}\n`);

    console.table(
      results.map((r) => ({
        mode: r.mode,
        'ok/total': `${r.completed - r.non2xx}/${r.requests}`,
        'p50 ms': r.latencyMs.p50,
        'p90 ms': r.latencyMs.p90,
        'p99 ms': r.latencyMs.p99,
        'max ms': r.latencyMs.max,
        'req/s': r.throughputPerSecond,
      })),
    );
    const t = output.ratioTemporalToBaseline;
    const o = output.ratioOutboxToBaseline;
    const ro = output.ratioRedisOutboxToBaseline;
    console.log(
      `vs BullMQ enqueue: Temporal start p50 x${t.p50}, p99 x${t.p99}; PostgreSQL outbox p50 x${o.p50}, p99 x${o.p99}; ` +
        `Redis outbox p50 x${ro.p50}, p99 x${ro.p99} (its relay held during the round: p50 x${output.ratioRedisOutboxRelayHeldToBaseline.p50}, p99 x${output.ratioRedisOutboxRelayHeldToBaseline.p99}); ` +
        `relay drained at most ${relayDrainMs} ms after a round; Redis relay held ${output.redisOutboxPacing.deferred} starts, ` +
        `${output.redisOutboxPacing.deferBoundReached} of them until the bound (bench/results/webhook-ack.json)`,
    );
  } finally {
    for (const [, receiver] of modes) await receiver.close();
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
    const leftover = new Queue('webhook-outbox', { connection: redis, prefix: redisOutboxPrefix });
    await leftover.obliterate({ force: true }).catch(() => undefined);
    await leftover.close();
    const heldLeftover = new Queue('webhook-outbox', { connection: redis, prefix: `${redisOutboxPrefix}-held` });
    await heldLeftover.obliterate({ force: true }).catch(() => undefined);
    await heldLeftover.close();
    await dropBenchTable(`${benchPgServer}/${pgDatabase}`, outboxTable);
    await devServer.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

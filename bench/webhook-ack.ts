/**
 * Acknowledgement latency of the webhook receiver under concurrent load, loopback only:
 * `node --import tsx bench/webhook-ack.ts`.
 *
 * Two modes in one run, same server code, same signed requests:
 * - `verify-only` (baseline): answers 200 right after verification and validation;
 * - `temporal`: verification + a durable `processWebhookEvent` start on a Temporal dev server.
 * No worker runs: a start is acknowledged once Temporal persisted it, which is what the 2xx promises.
 * Writes bench/results/webhook-ack.json and prints a table.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { startDevServer } from '../src/devserver/dev-server';
import { createLogger } from '../src/observability/logger';
import { standardSignature, turbodocxSignature } from '../src/sandbox/webhooks';
import { installTemporalRuntime } from '../src/workers/runtime';
import { documentsWebhooks } from '../src/webhooks/providers';
import { startReceiver, type Receiver } from '../src/webhooks/server';

const requests = Number(process.env.BENCH_REQUESTS ?? 2000);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 32);
const warmup = 100;
/** Each mode stops after this long, whatever is left. */
const timeBudgetMs = 120_000;
const secret = `whsec_${randomBytes(24).toString('base64')}`;

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

async function load(mode: string, receiver: Receiver, batch: Signed[]): Promise<ModeResult> {
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
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    mode,
    requests: batch.length,
    completed: latencies.length,
    non2xx,
    errors,
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

async function main(): Promise<void> {
  const logger = createLogger({ name: 'bench', level: 'warn' });
  installTemporalRuntime(logger);
  const devServer = await startDevServer();
  const common = {
    providers: [{ definition: documentsWebhooks, secrets: [secret] }],
    temporal: { address: devServer.address, taskQueue: 'bench-webhook-ack-no-worker' },
    logger,
  };
  const baseline = await startReceiver({ ...common, verifyOnly: true });
  const full = await startReceiver(common);
  try {
    // Warm-up (JIT, the receiver's Temporal connection), not measured.
    await load('warmup', baseline, signedRequests(warmup));
    await load('warmup', full, signedRequests(warmup));

    const verifyOnly = await load('verify-only (baseline)', baseline, signedRequests(requests));
    const temporal = await load('verify + Temporal start', full, signedRequests(requests));
    const stats = full.stats();
    if (stats.accepted !== warmup + temporal.completed - temporal.non2xx) {
      throw new Error(`expected every acknowledged request to be a started workflow, got ${JSON.stringify(stats)}`);
    }

    const ratio = {
      p50: round(temporal.latencyMs.p50 / verifyOnly.latencyMs.p50),
      p99: round(temporal.latencyMs.p99 / verifyOnly.latencyMs.p99),
    };
    const results = {
      benchmark: 'webhook-ack',
      date: new Date().toISOString(),
      node: process.version,
      cpu: `${cpus().length} x ${cpus()[0]?.model ?? 'unknown'}`,
      temporal: `${devServer.cli.version} (dev server, in-memory SQLite, loopback)`,
      requests,
      concurrency,
      warmupPerMode: warmup,
      results: [verifyOnly, temporal],
      ratioTemporalToBaseline: ratio,
      notes:
        'One signed document.completed event per request (unique IDs), both signature schemes checked. ' +
        'Latency = request sent to response fully read, measured by the client. No worker runs: a 2xx ' +
        'means Temporal persisted the workflow start. Receiver logs at warn (no per-request lines).',
    };
    const dir = join(__dirname, 'results');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'webhook-ack.json'), `${JSON.stringify(results, null, 2)}\n`);

    console.table(
      results.results.map((r) => ({
        mode: r.mode,
        'ok/total': `${r.completed - r.non2xx}/${r.requests}`,
        'p50 ms': r.latencyMs.p50,
        'p90 ms': r.latencyMs.p90,
        'p99 ms': r.latencyMs.p99,
        'max ms': r.latencyMs.max,
        'req/s': r.throughputPerSecond,
      })),
    );
    console.log(`Temporal / baseline: p50 x${ratio.p50}, p99 x${ratio.p99}  (bench/results/webhook-ack.json)`);
  } finally {
    await full.close();
    await baseline.close();
    await devServer.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

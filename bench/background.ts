/**
 * Background volume: `node --import tsx bench/background.ts` (`--quick`: 100 items per cell, 60 for the
 * per-item row).
 *
 * N payment charges, each one `payments.createPayment` against the sandbox, at concurrency 10 and 50:
 * - `bulk lane` (this project): `IntegrationsClient.sendInBulk` with the N items (one `sendInBulk` workflow
 *   per 500 items, one activity each calling the engine per item, C calls in flight, a key per item),
 *   until `result()` answers;
 * - `one workflow per item` (this project): `chargePayment` workflows (a durable, keyed step each) on the
 *   project's workers, at most C running at once (at most 200 items per cell: it is ~40x slower);
 * - `BullMQ` (baseline): N jobs added in bulk to a BullMQ queue on the Redis at 127.0.0.1:6379 (key prefix
 *   `di-bench`, its own queue per cell, obliterated after), a Worker with concurrency C whose handler is the
 *   same call path as the activity (`IntegrationEngine.call`, the same key, the same sandbox endpoint).
 * Items per second from the first enqueue to the last completion; cells interleaved over 3 repetitions.
 * Writes bench/results/background.json, prints a table.
 */
import { Queue, QueueEvents, Worker as BullWorker } from 'bullmq';
import { payments } from '../src/integrations/payments/payments.integration';
import { WORKFLOWS_TASK_QUEUE } from '../src/contracts/task-queues';
import { formatSpread, machine, round, spread, writeResult } from './support/report';
import { startBenchStack, type BenchStack } from './support/stack';

const quick = process.argv.includes('--quick');
const items = Number(process.env.BENCH_BACKGROUND_ITEMS ?? (quick ? 100 : 500));
const perItemItems = Math.min(items, quick ? 60 : 200);
const repetitions = Number(process.env.BENCH_REPETITIONS ?? 3);
const concurrencies = [10, 50];
const redis = { host: '127.0.0.1', port: 6379 };
const prefix = 'di-bench';

const body = (i: number, run: string) => ({ amount: 100 + (i % 50), currency: 'EUR', orderId: `bg-${run}-${i}` });

async function bulkLane(stack: BenchStack, concurrency: number, run: string): Promise<number> {
  const t0 = performance.now();
  const handle = await stack.client.sendInBulk({
    integration: 'payments',
    endpoint: 'createPayment',
    batchId: `bench-bg-${run}`,
    items: Array.from({ length: items }, (_, i) => ({ key: `item-${i}`, body: body(i, run) })),
    concurrency,
  });
  const summary = await handle.result();
  if (summary.succeeded !== items) throw new Error(`bulk lane: ${JSON.stringify(summary).slice(0, 500)}`);
  return items / ((performance.now() - t0) / 1000);
}

async function temporalLane(stack: BenchStack, concurrency: number, run: string): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  const lane = async () => {
    for (let i = next++; i < perItemItems; i = next++) {
      await stack.client.temporal.workflow.execute('chargePayment', {
        taskQueue: WORKFLOWS_TASK_QUEUE,
        workflowId: `bench-bg-${run}-${i}`,
        args: [body(i, run)],
      });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return perItemItems / ((performance.now() - t0) / 1000);
}

async function bullmqLane(stack: BenchStack, concurrency: number, run: string): Promise<number> {
  const name = `bg-${run}`;
  const queue = new Queue(name, { connection: redis, prefix });
  const events = new QueueEvents(name, { connection: redis, prefix });
  await events.waitUntilReady();
  let done = 0;
  let failed = 0;
  const all = new Promise<void>((resolve) => {
    const count = () => done + failed >= items && resolve();
    events.on('completed', () => (done++, count()));
    events.on('failed', () => (failed++, count()));
  });
  const worker = new BullWorker(
    name,
    (job) =>
      stack.engine.call(
        payments,
        'createPayment',
        { key: `bullmq-${run}-${job.id}`, body: job.data as ReturnType<typeof body> },
        { attempt: job.attemptsMade + 1 },
      ),
    { connection: redis, prefix, concurrency },
  );
  await worker.waitUntilReady();
  try {
    const t0 = performance.now();
    await queue.addBulk(Array.from({ length: items }, (_, i) => ({ name: 'charge', data: body(i, run) })));
    await all;
    if (failed > 0) throw new Error(`bullmq: ${failed} jobs failed`);
    return items / ((performance.now() - t0) / 1000);
  } finally {
    await worker.close();
    await events.close();
    await queue.obliterate({ force: true });
    await queue.close();
  }
}

async function main(): Promise<void> {
  const started = machine();
  const stack = await startBenchStack();
  const run = Date.now().toString(36);
  try {
    const lanes = { 'bulk lane': bulkLane, 'one workflow per item': temporalLane, BullMQ: bullmqLane };
    const rates = new Map<string, number[]>();
    await temporalLane(stack, 5, `${run}-warm`).catch(() => undefined);
    await bulkLane(stack, 10, `${run}-warm`).catch(() => undefined);
    for (let rep = 0; rep < repetitions; rep++) {
      for (const c of concurrencies) {
        const names = Object.keys(lanes) as (keyof typeof lanes)[];
        for (const name of rep % 2 === 0 ? names : [...names].reverse()) {
          const rate = await lanes[name](stack, c, `${run}-${rep}-${c}`);
          process.stderr.write(`  rep ${rep + 1} ${name} c=${c}: ${round(rate)} items/s\n`);
          rates.set(`${name}@${c}`, [...(rates.get(`${name}@${c}`) ?? []), rate]);
        }
      }
    }
    const results = concurrencies.map((c) => {
      const lane = spread(rates.get(`bulk lane@${c}`)!);
      const project = spread(rates.get(`one workflow per item@${c}`)!);
      const bull = spread(rates.get(`BullMQ@${c}`)!);
      return {
        concurrency: c,
        bulkLane: lane,
        oneWorkflowPerItem: project,
        bullmq: bull,
        bulkLaneRatio: round(lane.median / bull.median, 3),
        ratio: round(project.median / bull.median, 3),
      };
    });
    const file = writeResult('background', started, {
      itemsPerCell: items,
      itemsPerCellOneWorkflowPerItem: perItemItems,
      repetitions,
      method:
        'items/s from first enqueue to last completion (bulk lane: sendInBulk until result() answers); same call path (IntegrationEngine.call), endpoint and one key per item in every lane',
      goalRatio: 0.3,
      results,
    });
    console.log(
      `\nBackground volume: ${items} charges per cell (${perItemItems} one workflow per item), items/s (${repetitions} reps, median (min-max))`,
    );
    for (const r of results)
      console.log(
        `  c=${String(r.concurrency).padEnd(3)} bulk lane ${formatSpread(r.bulkLane)} (${r.bulkLaneRatio}x) | one workflow per item ${formatSpread(r.oneWorkflowPerItem)} (${r.ratio}x) | BullMQ ${formatSpread(r.bullmq)}`,
      );
    console.log(`wrote ${file}`);
  } finally {
    await stack.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

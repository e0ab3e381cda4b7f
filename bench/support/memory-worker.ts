/**
 * A worker process for bench/memory.ts: one workflow Worker from a prebuilt bundle file, on a queue and
 * with cache settings from the environment; answers `status` messages over IPC with its RSS and cache size.
 * Run with `--expose-gc` so the RSS is read after a full collection.
 */
import { NativeConnection, Worker } from '@temporalio/worker';
import { createLogger } from '../../src/observability/logger';
import { installTemporalRuntime } from '../../src/workers/runtime';

async function main(): Promise<void> {
  installTemporalRuntime(createLogger({ name: 'bench-memory-worker', level: 'error' }));
  const env = process.env;
  const connection = await NativeConnection.connect({ address: env.BENCH_ADDRESS! });
  const worker = await Worker.create({
    connection,
    taskQueue: env.BENCH_TASK_QUEUE!,
    workflowBundle: { codePath: env.BENCH_BUNDLE! },
    ...(env.BENCH_MAX_CACHED ? { maxCachedWorkflows: Number(env.BENCH_MAX_CACHED) } : {}),
    ...(env.BENCH_REUSE_V8 ? { reuseV8Context: env.BENCH_REUSE_V8 === 'true' } : {}),
    shutdownGraceTime: '1 second',
  });
  process.on('message', (message: string) => {
    if (message === 'status') {
      (globalThis as { gc?: () => void }).gc?.();
      const { rss, heapUsed } = process.memoryUsage();
      process.send!({ rss, heapUsed, cached: worker.getStatus().numCachedWorkflows });
    } else if (message === 'stop') worker.shutdown();
  });
  const running = worker.run();
  process.send!({ ready: true, maxCached: worker.options.maxCachedWorkflows });
  await running;
  await connection.close();
  process.exit(0);
}

main().catch((err: unknown) => {
  process.stderr.write(`${String(err)}\n`);
  process.exit(1);
});

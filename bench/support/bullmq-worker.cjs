// A BullMQ worker process, the cold-start baseline: connects to the Redis at 127.0.0.1:6379 (key prefix
// `di-bench`), prints `ready` when it waits for jobs, stops on SIGTERM. Plain Node, no TypeScript loader.
const { Queue, Worker } = require('bullmq');

const name = process.env.BENCH_BULL_QUEUE ?? 'cold-start';
const worker = new Worker(name, async () => 'ok', {
  connection: { host: '127.0.0.1', port: 6379 },
  prefix: 'di-bench',
});
worker.on('ready', () => process.stdout.write('ready\n'));
process.once('SIGTERM', () => {
  // Removes the keys this queue created (only under its own name and prefix).
  const queue = new Queue(name, { connection: { host: '127.0.0.1', port: 6379 }, prefix: 'di-bench' });
  void worker
    .close()
    .then(() => queue.obliterate({ force: true }))
    .then(() => queue.close())
    .then(() => process.exit(0));
});

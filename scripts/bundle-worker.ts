/**
 * `npm run build:worker-bundle` (after `npm run build`): the worker process's code and its pure-JS
 * dependencies in one file, dist/workers/main.bundle.js, run as `node dist/workers/main.bundle.js`. Node then
 * resolves and reads about 930 files fewer at start (issue 12: ~0.1 s of the worker's CPU time to polling,
 * bench/cold-start.ts). The Temporal SDK stays in node_modules: its native bridge, the workflow thread's
 * file it starts by path, and one instance of its classes shared with the workflow bundle's loader; so do
 * OpenTelemetry (loaded only when tracing) and the optional native modules. `require.resolve('../workflows')`
 * (bundling at start) still finds dist/workflows beside it.
 * esbuild is tsx's own dependency here; an image that builds this needs it as a devDependency.
 */
import { build } from 'esbuild';
import { join } from 'node:path';

async function main(): Promise<void> {
  const root = join(__dirname, '..');
  const started = Date.now();
  const result = await build({
    entryPoints: [join(root, 'src/workers/main.ts')],
    outfile: join(root, 'dist/workers/main.bundle.js'),
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    external: ['@temporalio/*', '@opentelemetry/*', 'cpu-features', 'pg-native', 'ssh2', '*.node'],
    metafile: true,
    logLevel: 'error',
  });
  const [output] = Object.values(result.metafile.outputs);
  console.log(
    `wrote dist/workers/main.bundle.js (${Object.keys(result.metafile.inputs).length} files, ${Math.round((output?.bytes ?? 0) / 1024)} KiB) in ${Date.now() - started} ms`,
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

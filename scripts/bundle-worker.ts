/**
 * `npm run build:worker-bundle` (after `npm run build`): the worker process's code and its pure-JS
 * dependencies in one file, dist/workers/main.bundle.js, run as `node dist/workers/main.bundle.js`. Node then
 * resolves and reads about 930 files fewer at start (issue 12: ~0.1 s of the worker's CPU time to polling,
 * bench/cold-start.ts). The Temporal SDK stays in node_modules: its native bridge, the workflow thread's
 * file it starts by path, and one instance of its classes shared with the workflow bundle's loader; so do
 * OpenTelemetry (loaded only when tracing) and the optional native modules. `require.resolve('../workflows')`
 * (bundling at start) still finds dist/workflows beside it.
 * The bundle is main.bundle.code.js; dist/workers/main.bundle.js is the launcher
 * (scripts/worker-bundle-launcher.cjs) that runs it from the V8 code cache written here,
 * main.bundle.code.cache (the bundle compiled once, top level: ~0.07 s less at each start).
 * esbuild is tsx's own dependency here; an image that builds this needs it as a devDependency.
 */
import { build } from 'esbuild';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import Module from 'node:module';
import { join } from 'node:path';
import { Script } from 'node:vm';

async function main(): Promise<void> {
  const root = join(__dirname, '..');
  const started = Date.now();
  const result = await build({
    entryPoints: [join(root, 'src/workers/main.ts')],
    outfile: join(root, 'dist/workers/main.bundle.code.js'),
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    external: ['@temporalio/*', '@opentelemetry/*', 'cpu-features', 'pg-native', 'ssh2', '*.node'],
    metafile: true,
    logLevel: 'error',
  });
  const [output] = Object.values(result.metafile.outputs);
  // The code cache, by this Node: the launcher's compile of the same wrapped source accepts it.
  const code = join(root, 'dist/workers/main.bundle.code.js');
  const cache = new Script(Module.wrap(readFileSync(code, 'utf8')), { filename: code }).createCachedData();
  writeFileSync(join(root, 'dist/workers/main.bundle.code.cache'), cache);
  copyFileSync(join(root, 'scripts/worker-bundle-launcher.cjs'), join(root, 'dist/workers/main.bundle.js'));
  console.log(
    `wrote dist/workers/main.bundle.js, the launcher of main.bundle.code.js (${Object.keys(result.metafile.inputs).length} files, ${Math.round((output?.bytes ?? 0) / 1024)} KiB; code cache ${Math.round(cache.length / 1024)} KiB) in ${Date.now() - started} ms`,
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

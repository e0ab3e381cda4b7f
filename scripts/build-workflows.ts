/**
 * `npm run build:workflows`: bundles the workers' workflow code once, ahead of start, into
 * dist/workflow-bundle.js with a manifest holding the hash of its sources, and of the compiled code of
 * `npm run build` when it is there (build that first for an image that ships dist/ only). A worker uses
 * the bundle only while that hash matches (src/workers/workflow-bundle.ts); otherwise it bundles at start.
 * With TRACING_EXPORTER set (otlp, console) it builds the tracing variant (dist/workflow-bundle-tracing.js,
 * with the OpenTelemetry workflow interceptors), which is what a tracing worker looks for.
 */
import { bundleWorkflowCode } from '@temporalio/worker';
import { configSchema } from '../src/config/config';
import {
  compiledCodeHash,
  hasCompiledCode,
  workflowBundleOptions,
  workflowSourcesHash,
  writePrebuiltBundle,
} from '../src/workers/workflow-bundle';

async function main(): Promise<void> {
  const started = Date.now();
  // Hashed before bundling: a source edited while the bundler runs makes the manifest stale, never wrong.
  const tracing = configSchema.shape.TRACING_EXPORTER.parse(process.env.TRACING_EXPORTER || undefined) !== 'none';
  const sourcesHash = workflowSourcesHash({ tracing });
  // With the compiled code of `npm run build` here, its hash too: a worker run from an image that ships
  // dist/ only (no src/) checks the bundle against it.
  const compiledHash = hasCompiledCode() ? compiledCodeHash({ tracing }) : undefined;
  const { code } = await bundleWorkflowCode({
    ...workflowBundleOptions({ tracing }),
    logger: { trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error, log() {} },
  });
  const path = writePrebuiltBundle(code, sourcesHash, tracing, compiledHash);
  console.log(`wrote ${path} (${Math.round(code.length / 1024)} KiB) in ${Date.now() - started} ms`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

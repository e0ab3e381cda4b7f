/**
 * `npm run build:workflows`: bundles the workers' workflow code once, ahead of start, into
 * dist/workflow-bundle.js with a manifest holding the hash of its sources. A worker uses it only while
 * that hash matches (src/workers/workflow-bundle.ts); otherwise it bundles at start, as without it.
 * With TRACING_EXPORTER set (otlp, console) it builds the tracing variant (dist/workflow-bundle-tracing.js,
 * with the OpenTelemetry workflow interceptors), which is what a tracing worker looks for.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { configSchema } from '../src/config/config';
import {
  prebuiltBundlePathsFor,
  workflowBundleOptions,
  workflowSourcesHash,
  type BundleManifest,
} from '../src/workers/workflow-bundle';

async function main(): Promise<void> {
  const started = Date.now();
  // Hashed before bundling: a source edited while the bundler runs makes the manifest stale, never wrong.
  const tracing = configSchema.shape.TRACING_EXPORTER.parse(process.env.TRACING_EXPORTER || undefined) !== 'none';
  const sourcesHash = workflowSourcesHash({ tracing });
  const { code } = await bundleWorkflowCode({
    ...workflowBundleOptions({ tracing }),
    logger: { trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error, log() {} },
  });
  const paths = prebuiltBundlePathsFor(tracing);
  mkdirSync(dirname(paths.code), { recursive: true });
  // Code first, manifest last, each by rename: a worker never pairs a new manifest with an old bundle.
  writeFileSync(`${paths.code}.tmp`, code);
  renameSync(`${paths.code}.tmp`, paths.code);
  const manifest: BundleManifest = { sourcesHash, tracing, builtAt: new Date().toISOString() };
  writeFileSync(`${paths.manifest}.tmp`, `${JSON.stringify(manifest, null, 2)}\n`);
  renameSync(`${paths.manifest}.tmp`, paths.manifest);
  console.log(`wrote ${paths.code} (${Math.round(code.length / 1024)} KiB) in ${Date.now() - started} ms`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

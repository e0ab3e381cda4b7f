/**
 * `npm run build:workflows`: bundles the workers' workflow code once, ahead of start, into
 * dist/workflow-bundle.js with a manifest holding the hash of its sources. A worker uses it only while
 * that hash matches (src/workers/workflow-bundle.ts); otherwise it bundles at start, as without it.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import {
  prebuiltBundlePaths,
  workflowBundleOptions,
  workflowSourcesHash,
  type BundleManifest,
} from '../src/workers/workflow-bundle';

async function main(): Promise<void> {
  const started = Date.now();
  // Hashed before bundling: a source edited while the bundler runs makes the manifest stale, never wrong.
  const sourcesHash = workflowSourcesHash();
  const { code } = await bundleWorkflowCode({
    ...workflowBundleOptions(),
    logger: { trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error, log() {} },
  });
  const paths = prebuiltBundlePaths;
  mkdirSync(dirname(paths.code), { recursive: true });
  // Code first, manifest last, each by rename: a worker never pairs a new manifest with an old bundle.
  writeFileSync(`${paths.code}.tmp`, code);
  renameSync(`${paths.code}.tmp`, paths.code);
  const manifest: BundleManifest = { sourcesHash, builtAt: new Date().toISOString() };
  writeFileSync(`${paths.manifest}.tmp`, `${JSON.stringify(manifest, null, 2)}\n`);
  renameSync(`${paths.manifest}.tmp`, paths.manifest);
  console.log(`wrote ${paths.code} (${Math.round(code.length / 1024)} KiB) in ${Date.now() - started} ms`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { Runtime, type BundleOptions, type WorkerOptions } from '@temporalio/worker';

/** The workflow code every worker runs: `src/workflows` (its index names every workflow type). */
export const workflowsPath = require.resolve('../workflows');

/**
 * The bundler options of the workers' workflow code, for `bundleWorkflowCode` and `Worker.create`.
 * No `preloadModules`: sharing the integration declarations between cached workflows would cut worker
 * memory per 1,000 open workflows from 1.9 to 0.4 GB (bench/memory.ts), but the SDK deep-freezes shared
 * modules and zod 4 mutates its schemas and regexes when it parses (`emailBatcher` parses each queued
 * message): the replay test fails with "object is not extensible". See bench/results/SUMMARY.md.
 */
export function workflowBundleOptions(): Pick<BundleOptions, 'workflowsPath'> {
  return { workflowsPath };
}

const root = resolve(__dirname, '..', '..');

/** Where `npm run build:workflows` writes the bundle and its manifest. */
export const prebuiltBundlePaths = {
  code: join(root, 'dist', 'workflow-bundle.js'),
  manifest: join(root, 'dist', 'workflow-bundle.json'),
};

export interface BundleManifest {
  /** {@link workflowSourcesHash} of the sources the bundle was built from. */
  sourcesHash: string;
  builtAt: string;
}

/**
 * A hash of everything a workflow bundle is built from: every TypeScript file under `src/` (workflow code
 * imports contracts, the kit, the declarations and the control workflow; hashing all of `src` errs on the
 * side of rebuilding) and the lockfile (the SDK and zod versions). About 5 ms.
 */
export function workflowSourcesHash(): string {
  const hash = createHash('sha256');
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts')) files.push(path);
    }
  };
  walk(join(root, 'src'));
  files.push(join(root, 'package-lock.json'));
  for (const file of files.sort()) {
    hash.update(relative(root, file)).update('\0');
    hash.update(existsSync(file) ? readFileSync(file) : '').update('\0');
  }
  return hash.digest('hex');
}

export type PrebuiltBundle =
  { use: true; codePath: string } | { use: false; reason: 'absent' | 'stale' | 'unreadable'; detail: string };

/**
 * The bundle `npm run build:workflows` wrote, if it was built from the sources as they are now. A stale
 * bundle (any source changed since) is never used: the caller bundles at start instead and says why.
 */
export function prebuiltWorkflowBundle(paths = prebuiltBundlePaths): PrebuiltBundle {
  if (!existsSync(paths.code) || !existsSync(paths.manifest))
    return { use: false, reason: 'absent', detail: `no prebuilt bundle at ${paths.code}` };
  let manifest: BundleManifest;
  try {
    manifest = JSON.parse(readFileSync(paths.manifest, 'utf8')) as BundleManifest;
  } catch (err) {
    return { use: false, reason: 'unreadable', detail: `${paths.manifest}: ${(err as Error).message}` };
  }
  if (manifest.sourcesHash !== workflowSourcesHash())
    return {
      use: false,
      reason: 'stale',
      detail: `prebuilt bundle ${paths.code} (built ${manifest.builtAt}) is older than the sources; run npm run build:workflows`,
    };
  return { use: true, codePath: paths.code };
}

/**
 * The workflow code option of the workflow Worker: the prebuilt bundle when it is fresh, else bundling at
 * start with the same options (a stale bundle is reported and ignored, never run).
 */
export function workflowCodeOption(): Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath' | 'bundlerOptions'> {
  const prebuilt = prebuiltWorkflowBundle();
  if (prebuilt.use) return { workflowBundle: { codePath: prebuilt.codePath } };
  if (prebuilt.reason !== 'absent') Runtime.instance().logger.warn(`${prebuilt.detail}: bundling at start instead`);
  return workflowBundleOptions();
}

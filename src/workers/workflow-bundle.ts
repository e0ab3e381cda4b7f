import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { Runtime, type BundleOptions, type WorkerOptions } from '@temporalio/worker';

/** The workflow code every worker runs: `src/workflows` (its index names every workflow type). */
export const workflowsPath = require.resolve('../workflows');

/**
 * Modules evaluated once per V8 context and shared by every cached workflow (the bundler's
 * `preloadModules`), instead of once per workflow: the integration modules workflow code imports (the
 * manifest's views, profiles, failure semantics, durations, the email check, the CRM v2 mapping). The SDK
 * deep-freezes them, and their module scope runs before any workflow exists: each is constant data and pure
 * functions, holds no per-workflow state and imports nothing from `@temporalio/workflow`; a module added
 * here must stay so. Workflow code imports no zod (src/integrations/manifest.generated.ts), which writes to
 * its schemas when it parses and could not be shared. bench/memory.ts measures what it saves.
 */
export const sharedWorkflowModules: string[] = [
  'manifest.generated',
  'kit/view',
  'kit/profiles',
  'kit/failures',
  'kit/duration',
  'email/email-message',
  'crm/crm-v2.mapping',
].map((m) => require.resolve(`../integrations/${m}`));

/** The bundler options of the workers' workflow code, for `bundleWorkflowCode` and `Worker.create`. */
export function workflowBundleOptions(
  options: { tracing?: boolean } = {},
): Pick<BundleOptions, 'workflowsPath' | 'workflowInterceptorModules' | 'preloadModules' | 'webpackConfigHook'> {
  return {
    workflowsPath,
    preloadModules: sharedWorkflowModules,
    ...(options.tracing ? { workflowInterceptorModules: [tracingWorkflowModule()] } : {}),
    webpackConfigHook: withoutSourcesContent,
  };
}

type WebpackConfiguration = Parameters<NonNullable<BundleOptions['webpackConfigHook']>>[0];

/**
 * The bundle's inline source map without the sources' text (`sourcesContent`, 1.2 of its 3.3 MB): stack
 * traces still map to the sources' files and lines, and only the enhanced stack trace query with the
 * worker option `showStackTraceSources` (not set here) would have shown the text. Every worker parses the
 * whole bundle, map included, at start (issue 12: Worker.create).
 */
function withoutSourcesContent(config: WebpackConfiguration): WebpackConfiguration {
  return { ...config, devtool: 'inline-nosources-source-map' };
}

/**
 * The workflow interceptors of `@temporalio/interceptors-opentelemetry` (the workflow's and each
 * scheduled activity's spans, exported through the worker's `exporter` sink). Bundled only when the
 * worker traces: every cached workflow instantiates the bundle's modules, so a worker that does not
 * trace carries none of OpenTelemetry (issue 12).
 */
export function tracingWorkflowModule(): string {
  return require.resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors');
}

/** The checkout or image root: `src/workers` and `dist/workers` (compiled) both sit two levels below it. */
const root = resolve(__dirname, '..', '..');

/**
 * Where `npm run build:workflows` writes the bundle and its manifest: one pair per tracing choice, so a
 * worker that traces never runs a bundle without the interceptors, nor one that does not trace with them.
 */
export function prebuiltBundlePathsFor(tracing: boolean, at = root): { code: string; manifest: string } {
  const name = tracing ? 'workflow-bundle-tracing' : 'workflow-bundle';
  return { code: join(at, 'dist', `${name}.js`), manifest: join(at, 'dist', `${name}.json`) };
}

export const prebuiltBundlePaths = prebuiltBundlePathsFor(false);

export interface BundleManifest {
  /** {@link workflowSourcesHash} of the sources the bundle was built from (the tracing choice included). */
  sourcesHash: string;
  /**
   * {@link compiledCodeHash} of the compiled code (`npm run build`) beside the bundle when it was built:
   * what a worker checks when it runs without `src/` (an image that ships `dist/` only).
   */
  compiledHash?: string;
  /** Whether the bundle holds the OpenTelemetry workflow interceptors. */
  tracing?: boolean;
  builtAt: string;
}

/** sha256 of the files under `dir` whose name passes `include`, the lockfile and the tracing choice. */
function treeHash(at: string, dir: string, include: (path: string) => boolean, tracing: boolean): string {
  const hash = createHash('sha256');
  if (tracing) hash.update('tracing:interceptors-opentelemetry\0');
  const files: string[] = [];
  const walk = (at: string) => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      const path = join(at, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (include(path)) files.push(path);
    }
  };
  if (existsSync(join(at, dir))) walk(join(at, dir));
  files.push(join(at, 'package-lock.json'));
  for (const file of files.sort()) {
    hash.update(relative(at, file)).update('\0');
    hash.update(existsSync(file) ? readFileSync(file) : '').update('\0');
  }
  return hash.digest('hex');
}

/**
 * A hash of everything a workflow bundle is built from: every TypeScript file under `src/` (workflow code
 * imports contracts, the kit, the declarations and the control workflow; hashing all of `src` errs on the
 * side of rebuilding), the lockfile (the SDK and zod versions) and whether the OpenTelemetry workflow
 * interceptors are bundled. About 5 ms.
 */
export function workflowSourcesHash(options: { tracing?: boolean } = {}, at = root): string {
  return treeHash(at, 'src', (path) => path.endsWith('.ts'), !!options.tracing);
}

/**
 * A hash of what a shipped worker runs instead of `src/`: the compiled JavaScript under `dist/` (`npm run
 * build`; the prebuilt bundles themselves excepted), the lockfile and the tracing choice. `npm run
 * build:workflows` records it when the compiled code is there, so build in that order (the Dockerfile does).
 */
export function compiledCodeHash(options: { tracing?: boolean } = {}, at = root): string {
  const bundles = new Set([false, true].map((tracing) => prebuiltBundlePathsFor(tracing, at).code));
  return treeHash(at, 'dist', (path) => path.endsWith('.js') && !bundles.has(path), !!options.tracing);
}

/** Whether this checkout holds the compiled code (`npm run build`), whose hash a manifest then records. */
export function hasCompiledCode(): boolean {
  return existsSync(join(root, 'dist', 'workers', 'main.js'));
}

/** Whether the sources are here: else a shipped image (`dist/` only), checked by {@link compiledCodeHash}. */
function hasSources(at: string): boolean {
  return existsSync(join(at, 'src'));
}

export type PrebuiltBundle =
  { use: true; codePath: string } | { use: false; reason: 'absent' | 'stale' | 'unreadable'; detail: string };

/**
 * Writes a bundle where workers look for a prebuilt one, with its manifest (`npm run build:workflows`, and
 * the tests' global setup, whose bundle the worker processes they start then use). `sourcesHash` must be
 * taken before bundling: a source edited meanwhile makes the manifest stale, never wrong. Code first,
 * manifest last, each by rename: a worker never pairs a new manifest with an old bundle.
 */
export function writePrebuiltBundle(
  code: string,
  sourcesHash: string,
  tracing: boolean,
  compiledHash?: string,
): string {
  const paths = prebuiltBundlePathsFor(tracing);
  mkdirSync(dirname(paths.code), { recursive: true });
  const tmp = `.${process.pid}.tmp`;
  writeFileSync(`${paths.code}${tmp}`, code);
  renameSync(`${paths.code}${tmp}`, paths.code);
  const manifest: BundleManifest = {
    sourcesHash,
    ...(compiledHash ? { compiledHash } : {}),
    tracing,
    builtAt: new Date().toISOString(),
  };
  writeFileSync(`${paths.manifest}${tmp}`, `${JSON.stringify(manifest, null, 2)}\n`);
  renameSync(`${paths.manifest}${tmp}`, paths.manifest);
  return paths.code;
}

/**
 * The bundle `npm run build:workflows` wrote, if it was built from the sources as they are now. A stale
 * bundle (any source changed since) is never used: the caller bundles at start instead and says why.
 */
export function prebuiltWorkflowBundle(
  paths = prebuiltBundlePaths,
  options: { tracing?: boolean } = {},
  at = root,
): PrebuiltBundle {
  if (!existsSync(paths.code) || !existsSync(paths.manifest))
    return { use: false, reason: 'absent', detail: `no prebuilt bundle at ${paths.code}` };
  let manifest: BundleManifest;
  try {
    manifest = JSON.parse(readFileSync(paths.manifest, 'utf8')) as BundleManifest;
  } catch (err) {
    return { use: false, reason: 'unreadable', detail: `${paths.manifest}: ${(err as Error).message}` };
  }
  // With the sources here (a checkout, compiled or not), the bundle must match them; without (an image that
  // ships dist/ only), it must match the compiled code it was built beside.
  const fresh = hasSources(at)
    ? manifest.sourcesHash === workflowSourcesHash(options, at)
    : manifest.compiledHash === compiledCodeHash(options, at);
  if (!fresh)
    return {
      use: false,
      reason: 'stale',
      detail: hasSources(at)
        ? `prebuilt bundle ${paths.code} (built ${manifest.builtAt}) is older than the sources${options.tracing ? ' or was built without tracing' : ''}; run npm run build:workflows${options.tracing ? ' with TRACING_EXPORTER set' : ''}`
        : `prebuilt bundle ${paths.code} (built ${manifest.builtAt}) was not built beside this compiled code${options.tracing ? ' or without tracing' : ''}; run npm run build, then npm run build:workflows${options.tracing ? ' with TRACING_EXPORTER set' : ''}`,
    };
  return { use: true, codePath: paths.code };
}

/**
 * The workflow code option of the workflow Worker: the prebuilt bundle of the same tracing choice when it
 * is fresh, else bundling at start with the same options (a stale bundle is reported and ignored, never
 * run). With tracing, bundling at start takes the interceptor module from `interceptors.workflowModules`.
 */
export function workflowCodeOption(
  options: { tracing?: boolean } = {},
): Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath' | 'bundlerOptions'> & { workflowModules?: string[] } {
  const prebuilt = prebuiltWorkflowBundle(prebuiltBundlePathsFor(options.tracing ?? false), options);
  if (prebuilt.use) return { workflowBundle: { codePath: prebuilt.codePath } };
  if (prebuilt.reason !== 'absent') Runtime.instance().logger.warn(`${prebuilt.detail}: bundling at start instead`);
  return {
    workflowsPath,
    bundlerOptions: { preloadModules: sharedWorkflowModules },
    ...(options.tracing ? { workflowModules: [tracingWorkflowModule()] } : {}),
  };
}

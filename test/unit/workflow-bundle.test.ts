import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  compiledCodeHash,
  prebuiltBundlePathsFor,
  prebuiltWorkflowBundle,
  workflowSourcesHash,
  type BundleManifest,
} from '../../src/workers/workflow-bundle';

/** The freshness check of a prebuilt workflow bundle, in a checkout and in an image that ships dist/ only. */
describe('prebuilt workflow bundle freshness', () => {
  let at: string;
  const write = (path: string, text: string) => {
    mkdirSync(dirname(join(at, path)), { recursive: true });
    writeFileSync(join(at, path), text);
  };
  const manifest = (fields: Partial<BundleManifest>) =>
    write('dist/workflow-bundle.json', JSON.stringify({ sourcesHash: 'none', builtAt: 'then', ...fields }));
  const check = () => prebuiltWorkflowBundle(prebuiltBundlePathsFor(false, at), {}, at);

  beforeEach(() => {
    at = mkdtempSync(join(tmpdir(), 'workflow-bundle-'));
    write('package-lock.json', '{"lockfileVersion":3}');
    write('dist/workers/main.js', 'main();');
    write('dist/workflows/index.js', 'exports.a = 1;');
    write('dist/workflow-bundle.js', 'bundle');
  });
  afterEach(() => rmSync(at, { recursive: true, force: true }));

  it('without src/ (an image), is fresh while the compiled code is the one it was built beside', () => {
    manifest({ compiledHash: compiledCodeHash({}, at) });
    expect(check()).toEqual({ use: true, codePath: join(at, 'dist', 'workflow-bundle.js') });
    write('dist/workflow-bundle.js', 'another bundle'); // the bundle itself is not part of the hash
    expect(check().use).toBe(true);

    write('dist/workflows/index.js', 'exports.a = 2;');
    expect(check()).toEqual({
      use: false,
      reason: 'stale',
      detail: expect.stringContaining('run npm run build, then npm run build:workflows') as unknown,
    });
  });

  it('without src/, is stale when the bundle was built without the compiled code (no compiledHash)', () => {
    manifest({ sourcesHash: workflowSourcesHash({}, at) });
    expect(check()).toMatchObject({ use: false, reason: 'stale' });
  });

  it('with src/ (a checkout, compiled or not), is checked against the sources, not the compiled code', () => {
    write('src/workflows/index.ts', 'export const a = 1;');
    manifest({ sourcesHash: workflowSourcesHash({}, at), compiledHash: 'other' });
    expect(check().use).toBe(true);
    write('src/workflows/index.ts', 'export const a = 2;');
    expect(check()).toEqual({
      use: false,
      reason: 'stale',
      detail: expect.stringContaining('older than the sources; run npm run build:workflows') as unknown,
    });
  });
});

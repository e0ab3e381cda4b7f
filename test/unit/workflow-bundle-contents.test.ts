import { readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { sharedWorkflowModules } from '../../src/workers/workflow-bundle';
import { testEnv } from '../support/temporal';

/**
 * What the workers' workflow bundle (built once by the global setup) holds. Every cached workflow evaluates
 * its own copy of the bundle's modules, so zod and the declarations' schemas cost each open workflow ~1.5 MB
 * (bench/memory.ts): workflow code uses src/integrations/manifest.generated.ts instead.
 */
describe('the workflow bundle', () => {
  const code = readFileSync(testEnv.workflowBundle, 'utf8');
  // webpack names each module by its path: `"./src/workflows/keys.ts"`, `"../main/node_modules/zod/..."`.
  const modules = [...new Set(code.match(/"\.{1,2}\/[^"\s]+\.[cm]?[jt]s"/g) ?? [])];

  it('names its modules by path (so the checks below see them)', () => {
    expect(modules).toEqual(
      expect.arrayContaining(['"./src/workflows/index.ts"', '"./src/integrations/manifest.generated.ts"']),
    );
  });

  it('holds no zod and no integration declaration', () => {
    expect(
      modules.filter((m) => /\/node_modules\/zod\/|\.integration\.ts"|\/kit\/(define|graphql)\.ts"/.test(m)),
    ).toEqual([]);
  });

  it('preloads the shared modules, which load nothing but each other at run time (no workflow API, no state)', () => {
    const root = resolve(__dirname, '..', '..');
    const preload = /exports\.preloadModules = function preloadModules\(\) \{([^}]*)\}/.exec(code)?.[1] ?? '';
    for (const file of sharedWorkflowModules) {
      expect(preload).toContain(`"./${relative(root, file)}"`);
      const imports = [...readFileSync(file, 'utf8').matchAll(/^import (?!type )[^;]*? from '([^']+)';/gms)].map((m) =>
        m[1]!.startsWith('.') ? require.resolve(resolve(dirname(file), m[1]!)) : m[1]!,
      );
      // Besides each other, only the SDK's pure helpers (duration parsing): never @temporalio/workflow.
      const shared = (i: string) => sharedWorkflowModules.includes(i) || i.startsWith('@temporalio/common/');
      expect(imports.filter((i) => !shared(i))).toEqual([]);
    }
  });
});

import { readFileSync } from 'node:fs';
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
});

import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';

// eslint.config.mjs applies the same module to the whole tree.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { walls } = require('../../architecture.cjs') as { walls: object[] };

/**
 * The walls between the parts (architecture.cjs), each shown refusing a crossing and letting the
 * allowed path through. `npm run lint` applies the same rules to the whole tree.
 */
async function lint(file: string, code: string): Promise<string[]> {
  const eslint = new ESLint({
    cwd: process.cwd(),
    overrideConfigFile: true,
    overrideConfig: [
      {
        files: ['**/*.ts'],
        languageOptions: { parser: tseslint.parser },
        plugins: { '@typescript-eslint': tseslint.plugin },
      },
      ...(walls as never[]),
    ],
  });
  const [result] = await eslint.lintText(code, { filePath: file });
  return result!.messages.map((m) => m.message);
}

describe('the walls between the parts', () => {
  it.each([
    ['the engine', 'src/integrations/runtime/call/x.ts', "import { controlState } from '../../../control/messages';"],
    ['the engine', 'src/integrations/runtime/x.ts', "import { ControlPlane } from '../../control/control-plane';"],
    ['the engine', 'src/integrations/runtime/x.ts', "import { runStep } from '../../workflows/patterns/steps';"],
    ['workflow code', 'src/workflows/x.ts', "import { IntegrationEngine } from '../integrations/runtime/engine';"],
    ['workflow code', 'src/workflows/x.ts', "import { request } from 'undici';"],
    ['workflow code', 'src/workflows/x.ts', "import { readFileSync } from 'node:fs';"],
    ['workflow code', 'src/workflows/x.ts', "import { z } from 'zod';"],
    [
      'workflow code',
      'src/workflows/x.ts',
      "import { payments } from '../integrations/payments/payments.integration';",
    ],
    ['workflow code', 'src/workflows/x.ts', "import { integrationNames } from '../integrations';"],
    ['workflow code', 'src/workflows/patterns/x.ts', "import { post } from '../../integrations/kit/define';"],
    [
      'the control workflow',
      'src/control/integration-control.workflow.ts',
      "import { ControlPlane } from './control-plane';",
    ],
    ['contracts', 'src/contracts/x.ts', "import { fulfillOrder } from '../workflows/fulfill-order.workflow';"],
    ['the client', 'src/client/x.ts', "import { stepKey } from '../workflows/keys';"],
    ['the receiver', 'src/webhooks/x.ts', "import { fulfillOrder } from '../workflows/fulfill-order.workflow';"],
    ['a worker', 'src/workers/x.ts', "import { runStep } from '../workflows/patterns/steps';"],
  ])('%s may not import across its wall: %s', async (_part, file, code) => {
    expect(await lint(file, code)).toEqual([expect.stringMatching(/is restricted from being used by a pattern/)]);
  });

  it.each([
    [
      'the client reaches workflows through contracts',
      'src/client/x.ts',
      "import { orderStatus } from '../contracts/messages';",
    ],
    [
      'the client may name a workflow as a type',
      'src/client/x.ts',
      "import type { fulfillOrder } from '../workflows/fulfill-order.workflow';",
    ],
    [
      'the engine knows the controls by their interface',
      'src/integrations/runtime/x.ts',
      "import type { Gate } from './call/gate';",
    ],
    ['workflow code uses contracts', 'src/workflows/x.ts', "import { resolveParked } from '../contracts/messages';"],
    [
      'workflow code uses the integrations through the manifest',
      'src/workflows/x.ts',
      "import { integrationViews } from '../integrations/manifest.generated';",
    ],
    [
      'workflow code may name a declaration as a type',
      'src/workflows/x.ts',
      "import type { Payment } from '../integrations/payments/payments.integration';",
    ],
  ])('%s', async (_what, file, code) => {
    expect(await lint(file, code)).toEqual([]);
  });
});

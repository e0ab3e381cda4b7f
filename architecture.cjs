// @ts-check
/**
 * The walls between the project's parts, as ESLint rules (`@typescript-eslint/no-restricted-imports`,
 * per folder). eslint.config.mjs applies them; test/unit/architecture.test.ts proves each one refuses a
 * crossing. Type-only imports cross freely where noted: they leave nothing in the compiled code.
 *
 * - src/contracts: what crosses process boundaries (task queues, workflow IDs, signals, queries, updates,
 *   search attributes). Imported by workflows, workers, client, receiver, control plane; imports none of them.
 * - src/workflows and the control workflow: deterministic, bundled; no I/O, no activity-side code, no zod
 *   nor integration declarations (they use src/integrations/manifest.generated.ts; types cross).
 * - src/integrations/runtime (the engine): the call path; knows the controls only through its Gate
 *   interface, never the control plane or workflow code.
 * - src/client, src/webhooks, src/workers, the control plane: reach workflows through contracts; a
 *   workflow's *type* may be imported for typed handles.
 */

const node = [
  { group: ['node:*'], message: 'Workflow code must be deterministic: Node built-ins are not allowed here.' },
  { group: ['fs', 'http', 'https', 'net', 'crypto', 'child_process', 'os', 'path'], message: 'Node built-in.' },
];
const io = {
  group: ['undici', 'pino', 'pino-*', '@temporalio/worker', '@temporalio/client', '@temporalio/activity'],
  message: 'Workflow code runs in the Temporal sandbox: I/O libraries belong in activities.',
};
const activitySide = {
  group: [
    '**/integrations/runtime/*',
    '**/integrations/runtime/**',
    '**/devserver/*',
    '**/observability/*',
    '**/config/*',
    '**/control-plane',
  ],
  allowTypeImports: true,
  message: 'Activity-side code (HTTP engine, control plane, config, logging) must not enter the workflow bundle.',
};
const schemas = {
  // The registry (src/integrations/index.ts), any `*.integration` declaration, the kit's declaring modules, zod.
  regex: '^(zod(/.*)?|.*/integrations(/index)?|.*\\.integration|.*/kit/(define|graphql))$',
  allowTypeImports: true,
  message:
    'Workflow code must not load zod or the integration declarations (each cached workflow would evaluate its own copy): use src/integrations/manifest.generated.ts; import a declaration only as a type.',
};
const activities = {
  group: ['**/activities', '**/activities/*'],
  allowTypeImports: true,
  message: 'Import activity *types* only (import type).',
};
const workflowCode = {
  group: ['**/workflows', '**/workflows/*', '**/workflows/**'],
  allowTypeImports: true,
  message: 'Reach workflows through src/contracts (task queues, IDs, messages); import a workflow only as a type.',
};
const controlPlane = {
  group: ['**/control', '**/control/*'],
  message: 'The engine knows the controls only through its Gate interface (runtime/call/gate.ts).',
};

/** @param {string[]} files @param {object[]} patterns */
const wall = (files, patterns) => ({
  files,
  rules: { '@typescript-eslint/no-restricted-imports': ['error', { patterns }] },
});

const walls = [
  wall(
    ['src/workflows/**/*.ts', 'src/control/*.workflow.ts', 'src/control/messages.ts'],
    [...node, io, activitySide, activities, schemas],
  ),
  wall(
    ['src/contracts/**/*.ts'],
    [
      ...node,
      io,
      activitySide,
      activities,
      workflowCode,
      { ...controlPlane, message: 'Contracts depend on nothing of the project.' },
    ],
  ),
  wall(['src/integrations/runtime/**/*.ts'], [workflowCode, controlPlane]),
  wall(
    ['src/client/**/*.ts', 'src/webhooks/**/*.ts', 'src/workers/**/*.ts', 'src/control/control-plane.ts'],
    [workflowCode],
  ),
];

module.exports = { walls };

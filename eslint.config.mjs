// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';

/** Workflow code is bundled into Temporal's deterministic sandbox: no I/O, no clocks, no Node. */
const workflowForbidden = {
  patterns: [
    { group: ['node:*'], message: 'Workflow code must be deterministic: Node built-ins are not allowed here.' },
    {
      group: ['undici', 'pino', 'pino-*', '@temporalio/worker', '@temporalio/client', '@temporalio/activity'],
      message: 'Workflow code runs in the Temporal sandbox: I/O libraries belong in activities.',
    },
    { group: ['fs', 'http', 'https', 'net', 'crypto', 'child_process', 'os', 'path'], message: 'Node built-in.' },
    {
      group: ['**/integrations/runtime/*', '**/devserver/*', '**/observability/*', '**/config/*'],
      allowTypeImports: true,
      message: 'Activity-side code (HTTP engine, config, logging) must not enter the workflow bundle.',
    },
    {
      group: ['**/activities', '**/activities/*'],
      allowTypeImports: true,
      message: 'Import activity *types* only (import type).',
    },
  ],
};

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      '.data/**',
      '.tmp/**',
      'coverage/**',
      '**/*.mjs',
      '**/*.cjs',
      '*.config.js',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { 'import-x': importX },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'import-x/no-cycle': 'error',
    },
  },
  {
    files: ['src/workflows/**/*.ts'],
    rules: { '@typescript-eslint/no-restricted-imports': ['error', workflowForbidden] },
  },
  {
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/unbound-method': 'off' },
  },
);

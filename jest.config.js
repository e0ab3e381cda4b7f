/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022' } }] },
  // One dev server and one sandbox for the whole run (test/global-setup.ts).
  globalSetup: '<rootDir>/test/global-setup.ts',
  globalTeardown: '<rootDir>/test/global-teardown.ts',
  setupFilesAfterEnv: ['<rootDir>/test/support/setup-runtime.ts'],
  // Workflow tests share the server's task queues: files run one at a time so one file's workers
  // never pick up another file's tasks.
  maxWorkers: 1,
  testTimeout: 60_000,
  slowTestThreshold: 20,
};

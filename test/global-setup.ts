import { join } from 'node:path';
import { ensureChromium } from '../scripts/ensure-chromium';
import { startTestStack, type TestStack } from './support/stack';

declare global {
  // Shared between global setup and teardown (same process).
  var __testStack: TestStack | undefined;
}

/** The jest 30 global config, as far as this setup reads it (which test files the run selects). */
interface RunConfig {
  rootDir?: string;
  testPathPatterns?: { toExecutor(options: { rootDir: string }): { isMatch(path: string): boolean } };
}

export default async function globalSetup(globalConfig?: RunConfig): Promise<void> {
  // The browser test's Chromium, installed when missing (apt, as root) before anything starts, so a run
  // that cannot have it stops at once saying what to run; only when the run includes that test.
  if (selects(globalConfig, join(__dirname, 'browser', 'operator-view.test.ts'))) {
    ensureChromium({ onProgress: (line) => console.log(line) });
  }
  const stack = await startTestStack();
  globalThis.__testStack = stack;
  // Test files run in worker processes spawned after this: they inherit these variables.
  Object.assign(process.env, stack.env);
  const { cli, address } = stack.devServer;
  console.log(
    `\nTemporal dev server ${cli.version} [${cli.source}] at ${address}; sandbox at ${stack.env.TEST_SANDBOX_URL}`,
  );
}

/** Whether the run's path patterns (`jest <pattern>`) select this test file; no pattern selects every file. */
function selects(config: RunConfig | undefined, file: string): boolean {
  const patterns = config?.testPathPatterns;
  if (!patterns) return true;
  try {
    return patterns.toExecutor({ rootDir: config.rootDir ?? join(__dirname, '..') }).isMatch(file);
  } catch {
    return true; // an unreadable pattern: better installed once for nothing than a browser test without it
  }
}

import { startTestStack, type TestStack } from './support/stack';

declare global {
  // Shared between global setup and teardown (same process).
  var __testStack: TestStack | undefined;
}

export default async function globalSetup(): Promise<void> {
  const stack = await startTestStack();
  globalThis.__testStack = stack;
  // Test files run in worker processes spawned after this: they inherit these variables.
  Object.assign(process.env, stack.env);
  const { cli, address } = stack.devServer;
  console.log(
    `\nTemporal dev server ${cli.version} [${cli.source}] at ${address}; sandbox at ${stack.env.TEST_SANDBOX_URL}`,
  );
}

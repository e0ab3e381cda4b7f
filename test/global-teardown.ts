export default async function globalTeardown(): Promise<void> {
  const stack = globalThis.__testStack;
  if (!stack) return;
  await stack.sandbox.stop();
  await stack.devServer.stop();
}

import { stopTestStack } from './support/stack';

export default async function globalTeardown(): Promise<void> {
  if (globalThis.__testStack) await stopTestStack(globalThis.__testStack);
}

// A trivial workflow that waits forever (until terminated): the memory and cold-start benchmarks' open workflow.
import { condition } from '@temporalio/workflow';

export async function benchWait(): Promise<void> {
  await condition(() => false);
}

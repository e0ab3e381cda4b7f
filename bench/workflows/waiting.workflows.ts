// A trivial workflow that waits until signalled `benchWake` (or terminated): the memory and cold-start
// benchmarks' open workflow. The memory benchmark wakes some to time a cached against an evicted one.
import { condition, defineSignal, setHandler } from '@temporalio/workflow';

export const benchWake = defineSignal('benchWake');

export async function benchWait(): Promise<void> {
  let woken = false;
  setHandler(benchWake, () => {
    woken = true;
  });
  await condition(() => woken);
}

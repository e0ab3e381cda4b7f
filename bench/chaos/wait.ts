export interface WaitOptions {
  timeoutMs: number;
  /** @default 500 */
  intervalMs?: number;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls `check` until it returns true; false once `timeoutMs` has passed. For conditions in other
 * processes (a workflow closed, a worker ready): a cap, never a fixed sleep standing in for the condition.
 * A check that throws ends the wait with that error.
 */
export async function pollUntil(check: () => Promise<boolean> | boolean, options: WaitOptions): Promise<boolean> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(options.intervalMs ?? 500);
  }
}

/** Like {@link pollUntil}, but a timeout is an error naming `what`. */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean> | boolean,
  options: WaitOptions,
): Promise<void> {
  if (!(await pollUntil(check, options)))
    throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${what}`);
}

/** Resolves with `promise`'s value, or `fallback` after `ms` (the promise is left to settle on its own). */
export async function within<T, F>(promise: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<F>((resolve) => {
    timer = setTimeout(() => resolve(fallback), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

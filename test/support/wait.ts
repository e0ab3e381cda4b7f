/**
 * Waits until `check` returns true, polling every `intervalMs`, and fails with `what` after
 * `timeoutMs`. For events that happen in another process; never a substitute for awaiting a promise.
 */
export async function waitFor(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs = 5_000,
  intervalMs = 25,
) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

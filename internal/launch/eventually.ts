/**
 * Waiting in tests without fixed sleeps or wall-clock budgets: poll until something holds, to a
 * generous deadline that only a hang reaches.
 *
 * @module
 */

/** Polls `check` until it holds, failing after a generous `timeoutMs`. */
export async function eventually(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`${what}: not so after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

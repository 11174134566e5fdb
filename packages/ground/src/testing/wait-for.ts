// The one way tests wait for something that happens asynchronously (a leader elected, a topic
// visible on every broker, a consumer caught up): poll an observable condition until it holds, with a
// generous bound so a loaded machine only makes a test slower, never red. Never a timed assertion.

export interface WaitForOptions {
  /** Give up after this long (default 30 s). */
  readonly timeoutMs?: number;
  /** Between probes (default 20 ms). */
  readonly intervalMs?: number;
  /** Appended to the timeout error: what the test can tell about the state (a cluster's log tail). */
  readonly detail?: () => string | Promise<string>;
}

export const waitForTimeoutMsDefault = 30_000;
export const waitForIntervalMsDefault = 20;

/**
 * Calls `probe` until it returns something other than `undefined` or `false`, and resolves with it.
 * A probe that throws counts as "not yet"; the last error is in the timeout's message.
 */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  options: WaitForOptions = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? waitForTimeoutMsDefault;
  const intervalMs = options.intervalMs ?? waitForIntervalMsDefault;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) break;
    await sleep(intervalMs);
  }
  const cause = lastError === undefined ? '' : ` (last error: ${String(lastError)})`;
  const detail = options.detail === undefined ? '' : `\n${await options.detail()}`;
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${cause}${detail}`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

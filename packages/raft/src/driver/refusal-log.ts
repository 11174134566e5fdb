import type { RaftLogger } from './types.js';

/** A refusing node logs each (sender, reason) at most once per this window, with a count of the rest. */
export const REFUSAL_LOG_INTERVAL_MS = 10_000;
/**
 * Distinct (sender, reason) pairs remembered. Senders come off the network, so the map needs a bound;
 * when full it is cleared, which at worst logs a few refusals early.
 */
export const REFUSAL_LOG_KEYS_MAX = 1024;

interface Window {
  loggedAtMs: number;
  suppressed: number;
}

/**
 * Rate-limited warn for refused messages: a misconfigured node from another cluster retries every few
 * hundred ms, and one line per message would drown the log.
 */
export class RefusalLog {
  private readonly windows = new Map<string, Window>();

  constructor(
    private readonly logger: RaftLogger,
    private readonly nowMs: () => number,
  ) {}

  refused(from: number, reason: string, fields: object, message: string): void {
    const key = `${from}/${reason}`;
    const nowMs = this.nowMs();
    const window = this.windows.get(key);
    if (window !== undefined && nowMs - window.loggedAtMs < REFUSAL_LOG_INTERVAL_MS) {
      window.suppressed++;
      return;
    }
    if (window === undefined && this.windows.size >= REFUSAL_LOG_KEYS_MAX) this.windows.clear();
    const suppressedSinceLast = window?.suppressed ?? 0;
    this.windows.set(key, { loggedAtMs: nowMs, suppressed: 0 });
    this.logger.warn({ ...fields, from, reason, suppressedSinceLast }, message);
  }
}

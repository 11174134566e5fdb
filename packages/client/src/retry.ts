// kafkajs's retry options and backoff, with its names: the wait grows by `multiplier` from
// initialRetryTime up to maxRetryTime, randomised by ±`factor` of itself.

import { isRetriable, KafkaJSNumberOfRetriesExceeded } from './errors.js';

export interface RetryOptions {
  /** Longest wait between two attempts, ms. */
  readonly maxRetryTime?: number;
  /** First wait, ms. */
  readonly initialRetryTime?: number;
  /** Jitter: each wait is randomised by ±factor of itself. */
  readonly factor?: number;
  /** Growth of the wait from one attempt to the next. */
  readonly multiplier?: number;
  /** Attempts after the first. */
  readonly retries?: number;
  /**
   * The consumer's only (kafkajs's): asked after a crash with a retriable error whether to start
   * again; resolving false (or a non-retriable crash) leaves the consumer stopped. A rejection
   * counts as true, as in kafkajs. Without it every retriable crash restarts.
   */
  readonly restartOnFailure?: (error: Error) => Promise<boolean>;
}

export interface ResolvedRetry {
  readonly maxRetryTime: number;
  readonly initialRetryTime: number;
  readonly factor: number;
  readonly multiplier: number;
  readonly retries: number;
  readonly restartOnFailure?: (error: Error) => Promise<boolean>;
}

export function resolveRetry(options: RetryOptions = {}): ResolvedRetry {
  return {
    maxRetryTime: options.maxRetryTime ?? 30_000,
    initialRetryTime: options.initialRetryTime ?? 300,
    factor: options.factor ?? 0.2,
    multiplier: options.multiplier ?? 2,
    retries: options.retries ?? 5,
    ...(options.restartOnFailure === undefined ? {} : { restartOnFailure: options.restartOnFailure }),
  };
}

export function retryDelayMs(
  retry: ResolvedRetry,
  attempt: number,
  random: () => number = Math.random,
): number {
  const base = Math.min(retry.initialRetryTime * retry.multiplier ** attempt, retry.maxRetryTime);
  const jitter = base * retry.factor * (random() * 2 - 1);
  return Math.max(0, Math.round(base + jitter));
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs `attempt` until it succeeds, a non-retriable error is thrown, or the retries are spent.
 * `onRetriableError` runs before each wait (a metadata refresh, say).
 */
export async function withRetry<T>(
  retry: ResolvedRetry,
  attempt: (attemptNumber: number) => Promise<T>,
  onRetriableError?: (error: unknown) => Promise<void> | void,
): Promise<T> {
  for (let attemptNumber = 0; ; attemptNumber++) {
    try {
      return await attempt(attemptNumber);
    } catch (error) {
      if (!isRetriable(error)) throw error;
      if (attemptNumber >= retry.retries) throw new KafkaJSNumberOfRetriesExceeded(error, attemptNumber);
      await onRetriableError?.(error);
      await sleep(retryDelayMs(retry, attemptNumber));
    }
  }
}

// The loop time of requests under a request_percentage quota, continuations included.
//
// Gregor is one event loop: a request's work is its synchronous part (decoding, the checks, the
// handler up to its first await) and then every promise continuation of its own (the log append
// after the handler's await, the index update, building and encoding the response). A meter counts
// all of them and nothing else: while it is open, promise hooks tag each promise created with the
// meter that is running (or, outside any, the meter of the promise it derives from), and the time
// between the `before` and `after` of a tagged promise's continuation goes to its meter. Time spent
// waiting (disk I/O off the loop, a long poll or acks=all in the purgatory, a controller round trip)
// runs no continuation of the request and is not counted, as Kafka counts only the time a request
// spends on its network and request handler threads. Only the running meter is charged at any
// moment, so a request opened inside another's continuation does not count twice.
//
// The hooks cost every promise on the loop something (an extra call per promise and per
// continuation), so they are enabled only while at least one meter is open: a broker without a
// request_percentage quota, or whose quota'd clients are idle, never has them on. A request that
// waits keeps its meter open, so a consumer with such a quota that long-polls (Fetch max wait) keeps
// them on for most of the time. Promises tagged by a meter already closed are skipped.
//
// Pure apart from `promiseContinuationHooks` (v8's promiseHooks): the clock and the hooks are passed
// in, so tests can drive continuations on a manual clock.

import { promiseHooks } from 'node:v8';
import type { Clock } from '@gregor/ground';

/** What the meters need from the runtime's promise hooks (v8's promiseHooks in the broker). */
export interface ContinuationHooks {
  /** Starts calling `callbacks` for every promise; returns the function that stops it. */
  enable(callbacks: ContinuationCallbacks): () => void;
}

export interface ContinuationCallbacks {
  /** A promise was created while `parent` (the promise it derives from, if any) was settling. */
  init(promise: Promise<unknown>, parent: Promise<unknown> | undefined): void;
  /** A continuation of `promise` is about to run. */
  before(promise: Promise<unknown>): void;
  /** That continuation has returned. */
  after(promise: Promise<unknown>): void;
}

/** v8's promise hooks (node:v8 `promiseHooks`, cheaper than async_hooks: promises only). */
export const promiseContinuationHooks: ContinuationHooks = {
  enable: (callbacks) => {
    const stop = promiseHooks.createHook({
      init: (promise, parent) => callbacks.init(promise, parent),
      before: (promise) => callbacks.before(promise),
      after: (promise) => callbacks.after(promise),
    });
    return () => stop();
  },
};

/**
 * Each promise created while a meter was open carries it in this property, as Node's async_hooks
 * carry their ids on promises: a WeakMap from promise to meter made the hooks about three times as
 * expensive (0.4 against 0.1-0.15 µs a promise, 2026-12-06).
 */
const meterKey = Symbol('requestTimeMeter');
type Tagged = Promise<unknown> & { [meterKey]?: RequestTimeMeter };
const meterOf = (promise: Promise<unknown>): RequestTimeMeter | undefined => (promise as Tagged)[meterKey];

/** The loop time one request has taken so far. */
export class RequestTimeMeter {
  /** Counted so far, in the clock's milliseconds. */
  timeMs = 0;
  open = true;

  constructor(private readonly meters: RequestTimeMeters) {}

  /** Counts up to now (if it is running), closes the meter and answers its time; idempotent. */
  close(): number {
    return this.meters.close(this);
  }
}

export class RequestTimeMeters {
  /** The meter whose code is running now (possibly closed: then nothing is charged). */
  private running: RequestTimeMeter | undefined;
  /** When `running` began its present span. */
  private sinceMs = 0;
  private openCount = 0;
  private stopHooks: (() => void) | undefined;
  private readonly callbacks: ContinuationCallbacks = {
    init: (promise, parent) => {
      const meter = this.running ?? (parent === undefined ? undefined : meterOf(parent));
      if (meter?.open === true) (promise as Tagged)[meterKey] = meter;
    },
    before: (promise) => {
      const meter = meterOf(promise);
      this.switchTo(meter?.open === true ? meter : undefined);
    },
    after: () => this.switchTo(undefined),
  };

  constructor(
    private readonly clock: Clock,
    private readonly hooks: ContinuationHooks = promiseContinuationHooks,
  ) {}

  /** Whether the hooks are on (some meter is open). */
  get hooksEnabled(): boolean {
    return this.stopHooks !== undefined;
  }

  /**
   * Opens a meter that counts from `sinceMs` (when the request's frame was taken) and runs `body`,
   * the request's synchronous part, as its code; the promises `body` creates carry the meter on.
   * The caller must close the meter once the request is answered.
   */
  run<T>(sinceMs: number, body: (meter: RequestTimeMeter) => T): T {
    const meter = new RequestTimeMeter(this);
    if (this.openCount++ === 0) this.stopHooks = this.hooks.enable(this.callbacks);
    const previous = this.running;
    // Opened inside another request's continuation: that one ran until this one's frame was taken.
    if (previous?.open === true) previous.timeMs += Math.max(0, sinceMs - this.sinceMs);
    this.running = meter;
    this.sinceMs = sinceMs;
    try {
      return body(meter);
    } catch (error) {
      meter.close(); // nobody else will: the request never got under way
      throw error;
    } finally {
      this.switchTo(previous);
    }
  }

  /** See RequestTimeMeter.close. */
  close(meter: RequestTimeMeter): number {
    if (!meter.open) return meter.timeMs;
    if (this.running === meter) {
      const nowMs = this.clock.nowMs();
      meter.timeMs += nowMs - this.sinceMs;
      this.sinceMs = nowMs;
    }
    meter.open = false;
    if (--this.openCount === 0) {
      this.stopHooks?.();
      this.stopHooks = undefined;
    }
    return meter.timeMs;
  }

  /** Charges the running meter up to now and makes `next` the running one. */
  private switchTo(next: RequestTimeMeter | undefined): void {
    const running = this.running;
    if (running === next) return;
    const counting = running?.open === true;
    if (!counting && next === undefined) {
      this.running = undefined;
      return;
    }
    const nowMs = this.clock.nowMs();
    if (counting) running.timeMs += nowMs - this.sinceMs;
    this.running = next;
    this.sinceMs = nowMs;
  }
}

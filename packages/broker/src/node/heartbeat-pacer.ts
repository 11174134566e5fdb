// When a broker sends its next heartbeat to the controller, and which answers count. Pure: the
// lifecycle (broker-lifecycle.ts) passes the time in and does the sending.
//
// Heartbeats go out every `broker.heartbeat.interval.ms` counted from the previous SEND, also while
// earlier ones are unanswered, up to `inFlightMax` at once. Counted from the previous answer (one at
// a time, as Kafka's BrokerLifecycleManager does), one slow answer delays the next send by as much,
// and the lease (broker-lease.ts: a session from the send of the last answered heartbeat) had to
// cover two round trips, the interval and the timer's own lateness: on the 2-core machine under
// load (issue 13, session s14), answers that took 665 and 920 ms on event loops starved of CPU
// (both ends) made leases lapse with no broker fenced by the controller, and Produce was answered
// NOT_LEADER_OR_FOLLOWER. Sent on their own cadence, any answer to a heartbeat sent within the
// last session keeps the lease.
//
// Answers may come back out of send order (each call retries on its own); only an answer to a
// heartbeat sent after every answer applied so far is applied, so an older answer never undoes
// what a newer one said (a fencing, a registration refused).

export class HeartbeatPacer {
  private nextSeq = 0;
  private newestAppliedSeq = -1;
  private inFlight = 0;
  private lastSentAtMs: number | undefined;

  constructor(
    /** `broker.heartbeat.interval.ms`. */
    private readonly intervalMs: number,
    /** Heartbeats unanswered at once; past it the next waits for an answer. */
    readonly inFlightMax: number,
  ) {}

  /** How many heartbeats are unanswered. */
  get unanswered(): number {
    return this.inFlight;
  }

  /**
   * Milliseconds until the next heartbeat is due at `nowMs` (0: now), or undefined while
   * `inFlightMax` are unanswered (the next goes when one is answered).
   */
  nextSendDelayMs(nowMs: number): number | undefined {
    if (this.inFlight >= this.inFlightMax) return undefined;
    if (this.lastSentAtMs === undefined) return 0;
    return Math.max(0, this.lastSentAtMs + this.intervalMs - nowMs);
  }

  /**
   * Whether heartbeat `seq` is no newer than the newest answer applied, or was sent before a
   * `reset`: what its call ends with (a failure, for the lifecycle's log) says nothing about now.
   */
  superseded(seq: number): boolean {
    return seq <= this.newestAppliedSeq;
  }

  /** A heartbeat goes out at `nowMs`: its sequence number, for `answered`. */
  sent(nowMs: number): number {
    this.inFlight++;
    this.lastSentAtMs = nowMs;
    return this.nextSeq++;
  }

  /**
   * The call of heartbeat `seq` ended: with the controller's answer (`answeredByController`), or
   * without one (timed out, no controller), which says nothing and is never applied. True when
   * the answer is to be applied: no answer to a later heartbeat was applied before it.
   */
  answered(seq: number, answeredByController: boolean): boolean {
    this.inFlight--;
    if (!answeredByController || seq <= this.newestAppliedSeq) return false;
    this.newestAppliedSeq = seq;
    return true;
  }

  /** Starting over (a new registration): answers to heartbeats sent before now are not applied. */
  reset(): void {
    this.newestAppliedSeq = this.nextSeq - 1;
    this.lastSentAtMs = undefined;
  }
}

/**
 * As many heartbeats as one session holds: one sent a session ago or more can no longer renew the
 * lease, and its call has given up by then (it waits at most the session timeout).
 */
export function heartbeatsInFlightMax(sessionTimeoutMs: number, heartbeatIntervalMs: number): number {
  return Math.max(1, Math.ceil(sessionTimeoutMs / heartbeatIntervalMs));
}

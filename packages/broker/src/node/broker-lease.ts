// The leader lease: a broker acts as a partition leader (Produce, consumer Fetch and ListOffsets,
// Metadata naming it leader or controller) only while the active controller is known to count it
// alive. The controller fences a broker it has not heard from for `broker.session.timeout.ms`,
// counted from when each heartbeat ARRIVED there, and then elects new leaders for its partitions.
// The broker counts the same timeout from when it SENT the last heartbeat that was answered (and
// answered unfenced), which is never later than that arrival: so a broker cut off from the quorum
// stops leading no later than the controller may elect its successor (up to the two clocks'
// difference in rate over one session), however late an answer comes back. Measured on the
// monotonic clock, which no wall-clock step moves.

import type { Clock } from '@gregor/ground';
import type { LeaderLease } from '../replica/local-replicas.js';

export class BrokerLease implements LeaderLease {
  /** When the lease ends on `clock`; undefined: not held (never granted, or revoked by a fenced answer). */
  private expiresAtMs: number | undefined;

  constructor(
    private readonly clock: Clock,
    /** `broker.session.timeout.ms`: how long the controller counts a heartbeat. */
    readonly sessionTimeoutMs: number,
  ) {}

  /**
   * The controller answered a heartbeat sent at `sentAtMs` (on this lease's clock). Unfenced, it
   * renews the lease to a session after the send; fenced, the controller no longer counts this
   * broker among the live ones, so the lease ends now.
   */
  answered(sentAtMs: number, fenced: boolean): void {
    if (fenced) {
      this.expiresAtMs = undefined;
      return;
    }
    const expiresAtMs = sentAtMs + this.sessionTimeoutMs;
    // Answers arrive in send order, but a renewal never shortens what an earlier one granted.
    this.expiresAtMs = this.expiresAtMs === undefined ? expiresAtMs : Math.max(this.expiresAtMs, expiresAtMs);
  }

  held(): boolean {
    return this.expiresAtMs !== undefined && this.clock.nowMs() < this.expiresAtMs;
  }

  /** Milliseconds until the lease ends (0 when not held). */
  remainingMs(): number {
    return this.expiresAtMs === undefined ? 0 : Math.max(0, this.expiresAtMs - this.clock.nowMs());
  }

  /** Reads `clock`: the send time to pass to `answered`. */
  nowMs(): number {
    return this.clock.nowMs();
  }
}

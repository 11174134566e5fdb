// A read barrier on the metadata (Raft's ReadIndex, at the metadata quorum): before a coordinator
// answers a read from its memory, it makes sure this broker has applied every metadata change the
// quorum had committed when the read arrived. A leadership moved away before then (a preferred
// election moves it from a live broker, whose leader lease the controller never revokes) is then
// applied here, the coordinator has unloaded, and the read is answered NOT_COORDINATOR instead of
// from state the new leader has moved past (the chaos campaign saw committed offsets go backwards).
//
// One round: ask the active controller for the end of the committed metadata (its high watermark
// when it answers), then wait until this broker has applied up to it. A round that started before a
// confirmation was asked may have learned an end from before it, so that confirmation waits for the
// next round; every confirmation asked while a round runs shares that next one (at most one round
// runs and one waits, however many reads arrive).

import type { Clock } from '@gregor/ground';

export interface MetadataBarrierSource {
  /**
   * The end of the committed metadata (every entry below it is committed) as the active controller
   * sees it when it answers; undefined when no active controller answered within `timeoutMs`.
   */
  committedEndOffset(timeoutMs: number): Promise<number | undefined>;
  /** Resolves true once this broker has applied every entry below `endOffset`; false after `timeoutMs`. */
  appliedUpTo(endOffset: number, timeoutMs: number): Promise<boolean>;
}

export class MetadataBarrier {
  /** The round running now: it may have asked the controller before a new confirmation arrived. */
  private running: Promise<boolean> | undefined;
  /** The round that starts when the running one ends, shared by everything asked meanwhile. */
  private queued: Promise<boolean> | undefined;

  constructor(
    private readonly source: MetadataBarrierSource,
    private readonly clock: Clock,
    /**
     * How long one round may take before it fails (the read is refused). The broker session timeout:
     * a broker that cannot reach the controller for that long loses its leader lease anyway.
     */
    private readonly roundTimeoutMs: number,
    /** Told why a round failed (at most one call per round). */
    private readonly onRoundFailed: (why: string) => void = () => {},
  ) {}

  /**
   * Resolves true once this broker has applied every metadata change committed before this call;
   * false when that could not be confirmed within a round's timeout (no controller answered, or
   * this broker applies too slowly): the caller must then not answer from what it holds.
   */
  confirm(): Promise<boolean> {
    if (this.running === undefined) return this.startRound();
    this.queued ??= this.running.then(() => {
      this.queued = undefined;
      return this.startRound();
    });
    return this.queued;
  }

  private startRound(): Promise<boolean> {
    const round = this.runRound().finally(() => {
      if (this.running === round) this.running = undefined;
    });
    this.running = round;
    return round;
  }

  private async runRound(): Promise<boolean> {
    const startMs = this.clock.nowMs();
    const fail = (why: string): false => {
      this.onRoundFailed(why);
      return false;
    };
    try {
      const endOffset = await this.source.committedEndOffset(this.roundTimeoutMs);
      if (endOffset === undefined) return fail('no active controller answered');
      const remainingMs = this.roundTimeoutMs - (this.clock.nowMs() - startMs);
      if (remainingMs <= 0) return fail('the active controller answered too late');
      if (await this.source.appliedUpTo(endOffset, remainingMs)) return true;
      return fail(`metadata below offset ${endOffset} not applied within ${this.roundTimeoutMs} ms`);
    } catch (error) {
      // A transport failure is a round that confirmed nothing, like a timeout.
      return fail(`controller call failed: ${(error as Error).message}`);
    }
  }
}

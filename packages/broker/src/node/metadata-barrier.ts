// A read barrier on the metadata (Raft's ReadIndex at the metadata quorum, narrowed to the one fact a
// coordinator's read depends on): before a coordinator answers a read from its memory, the active
// controller confirms that this broker still leads the coordinator's partition, in the leader epoch
// the coordinator loaded it in. A leadership moved away (a preferred election moves it from a live
// broker, whose leader lease the controller never revokes) is then known before this broker applies
// it, and the read is answered NOT_COORDINATOR instead of from state the new leader has moved past
// (the chaos campaign saw committed offsets go backwards).
//
// Asking for the leaderships themselves, not for the end of the committed metadata log (and then
// waiting to have applied that far), keeps a read independent of unrelated metadata: a loaded
// broker applying a burst of topic creations made every OffsetFetch wait for them, seconds at a time
// (the frame fuzzer's 3 s oracle caught it in CI). A leadership the controller names in a newer epoch
// than the loaded one is refused too: this broker has not applied that change yet, and the client
// asks again.
//
// One round: one question to the active controller, for every partition of the topic. A round that
// started before a confirmation was asked may have been answered before it, so that confirmation
// waits for the next round; every confirmation asked while a round runs shares that next one (at
// most one round runs and one waits, however many reads arrive).

/** A partition's leader and leader epoch, as the active controller sees them. */
export interface PartitionLeader {
  /** -1 when the partition has no leader. */
  readonly leaderId: number;
  readonly leaderEpoch: number;
}

export interface MetadataBarrierSource {
  /**
   * The leader of each partition of the topic (by partition index) as the active controller sees
   * them when it answers, every committed change included; undefined when no active controller
   * answered within `timeoutMs`.
   */
  partitionLeaders(timeoutMs: number): Promise<ReadonlyMap<number, PartitionLeader> | undefined>;
}

export class MetadataBarrier {
  /** The round running now: it may have asked the controller before a new confirmation arrived. */
  private running: Promise<ReadonlyMap<number, PartitionLeader> | undefined> | undefined;
  /** The round that starts when the running one ends, shared by everything asked meanwhile. */
  private queued: Promise<ReadonlyMap<number, PartitionLeader> | undefined> | undefined;

  constructor(
    private readonly source: MetadataBarrierSource,
    /** This broker: the leader a confirmation expects. */
    private readonly brokerId: number,
    /**
     * How long one round may wait for the controller before it fails (the read is refused). The
     * broker session timeout: a broker that cannot reach the controller for that long loses its
     * leader lease anyway.
     */
    private readonly roundTimeoutMs: number,
    /** Told why a round failed (at most one call per round). */
    private readonly onRoundFailed: (why: string) => void = () => {},
  ) {}

  /**
   * Resolves true when the active controller, asked after this call, names this broker the leader
   * of `partitionIndex` in `leaderEpoch`; false otherwise (another leader, a newer epoch, or no
   * controller answered within a round's timeout): the caller must then not answer from what it holds.
   */
  async confirm(partitionIndex: number, leaderEpoch: number): Promise<boolean> {
    const leaders = await this.nextRound();
    const leader = leaders?.get(partitionIndex);
    return leader !== undefined && leader.leaderId === this.brokerId && leader.leaderEpoch === leaderEpoch;
  }

  private nextRound(): Promise<ReadonlyMap<number, PartitionLeader> | undefined> {
    if (this.running === undefined) return this.startRound();
    this.queued ??= this.running.then(() => {
      this.queued = undefined;
      return this.startRound();
    });
    return this.queued;
  }

  private startRound(): Promise<ReadonlyMap<number, PartitionLeader> | undefined> {
    const round = this.runRound().finally(() => {
      if (this.running === round) this.running = undefined;
    });
    this.running = round;
    return round;
  }

  private async runRound(): Promise<ReadonlyMap<number, PartitionLeader> | undefined> {
    try {
      const leaders = await this.source.partitionLeaders(this.roundTimeoutMs);
      if (leaders === undefined) this.onRoundFailed('no active controller answered');
      return leaders;
    } catch (error) {
      // A transport failure is a round that confirmed nothing, like a timeout.
      this.onRoundFailed(`controller call failed: ${(error as Error).message}`);
      return undefined;
    }
  }
}

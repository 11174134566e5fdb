/**
 * One state record per role, as KafkaRaftClient's FollowerState/CandidateState/LeaderState. The node
 * (node.ts) is the single owner of transitions; these records only hold what a role needs to remember.
 */
import type { FetchRequest } from './messages.js';
import type { SnapshotId } from './types.js';

/** A follower with leaderId undefined is KRaft's "unattached" state (possibly having voted). */
export interface FollowerState {
  readonly role: 'follower';
  readonly leaderId: number | undefined;
  /** Unattached: when to start a pre-vote. With a leader: recomputed from lastLeaderContactMs. */
  electionDeadlineMs: number;
  /** Time of the last successful fetch from (or BeginQuorumEpoch of) the leader. */
  lastLeaderContactMs: number;
  /** A fetch (or snapshot fetch) is outstanding until this time; then it is sent again. */
  requestInFlightUntilMs: number | undefined;
  /** A snapshot being fetched chunk by chunk. */
  snapshotFetch: SnapshotFetch | undefined;
}

export interface SnapshotFetch {
  readonly id: SnapshotId;
  readonly chunks: Uint8Array[];
  receivedBytes: number;
}

/** KIP-996: campaigning without bumping the epoch, so a partitioned node cannot disrupt the quorum. */
export interface ProspectiveState {
  readonly role: 'prospective';
  readonly grantedBy: Set<number>;
  readonly rejectedBy: Set<number>;
  readonly electionDeadlineMs: number;
  resendAtMs: number;
}

export interface CandidateState {
  readonly role: 'candidate';
  readonly grantedBy: Set<number>;
  readonly rejectedBy: Set<number>;
  electionDeadlineMs: number;
  resendAtMs: number;
}

export interface ReplicaProgress {
  /** The replica's durable log end offset, known only from a fetch that matched our log. -1: unknown. */
  matchedEndOffset: number;
  /** Last time any fetch arrived from it in this epoch (check-quorum). */
  lastFetchMs: number;
  /** Whether it has fetched in this epoch; until then BeginQuorumEpoch is sent again. */
  hasFetched: boolean;
  /** High watermark last sent to it, to know whether a parked fetch has news. */
  highWatermarkSent: number;
  /** Our log end offset when its last fetch arrived (for lastCaughtUpMs). */
  leaderEndOffsetAtLastFetch: number;
  /**
   * The latest time at which it is known to have held our whole log (Kafka's lastCaughtUpTimestamp):
   * a fetch from our log end catches it up now; a fetch from the log end we had at its previous
   * fetch catches it up as of that previous fetch. -1: not yet in this epoch.
   */
  lastCaughtUpMs: number;
}

export interface ParkedFetch {
  readonly request: FetchRequest;
  readonly deadlineMs: number;
}

export interface LeaderState {
  readonly role: 'leader';
  /** Offset of this epoch's leader-change entry; the high watermark must pass it before it moves. */
  readonly epochStartOffset: number;
  readonly replicas: Map<number, ReplicaProgress>;
  /** At most one parked fetch per voter (a newer fetch replaces it), so this is bounded by the voters. */
  readonly parkedFetches: Map<number, ParkedFetch>;
  beginQuorumResendAtMs: number;
}

export type RoleState = FollowerState | ProspectiveState | CandidateState | LeaderState;
export type Role = RoleState['role'];

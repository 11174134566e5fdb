import type { PartitionRegistration } from '@gregor/replication';

/**
 * The controller of the replication simulation: one partition's registration and the brokers'
 * sessions, with the rules of Gregor's controller (packages/metadata `controller.ts`,
 * `partition-election.ts`) reduced to what one partition needs:
 *   - A broker not heard from for `sessionTimeoutMs` is fenced: it leaves the ISR (unless it is the
 *     last member, which stays so that the one replica sure to hold every acknowledged record can
 *     lead again) and, if it led, the first active ISR member in replica order leads.
 *   - A restarted broker (new incarnation) may register only once the old incarnation's session is
 *     gone (DUPLICATE_BROKER_REGISTRATION otherwise); registering takes the old incarnation out of
 *     the ISR and leadership, with a new broker epoch. It is active (unfenced) at once: the sim has
 *     no metadata log for it to catch up with.
 *   - A leaderless partition gets a leader when an ISR member becomes active. Never one outside the
 *     ISR: unclean leader election is off.
 *   - AlterPartition is checked as Gregor checks it (broker epoch, leader epoch, leader, partition
 *     epoch, ISR members active) and commits a new ISR with the partition epoch bumped.
 * A leader change bumps the leader and partition epochs, an ISR change the partition epoch.
 */

export const noLeader = -1;

export const ControllerError = {
  NONE: 0,
  STALE_BROKER_EPOCH: 77,
  FENCED_LEADER_EPOCH: 74,
  NOT_CONTROLLER: 41,
  INVALID_REQUEST: 42,
  INVALID_UPDATE_VERSION: 95,
  INELIGIBLE_REPLICA: 107,
  DUPLICATE_BROKER_REGISTRATION: 101,
} as const;

export interface AlterPartitionProposal {
  readonly brokerId: number;
  readonly brokerEpoch: number;
  readonly leaderEpoch: number;
  readonly partitionEpoch: number;
  readonly newIsr: readonly number[];
}

export type HeartbeatOutcome =
  | { readonly kind: 'accepted'; readonly brokerEpoch: number; readonly state: PartitionRegistration }
  | { readonly kind: 'duplicate-registration' };

interface BrokerSession {
  incarnation: number;
  brokerEpoch: number;
  fenced: boolean;
  lastHeartbeatMs: number;
}

export class SimPartitionController {
  private stateValue: PartitionRegistration;
  private readonly brokers = new Map<number, BrokerSession>();
  private nextBrokerEpoch = 1;
  private leaderChanges = 0;

  constructor(
    replicas: readonly number[],
    private readonly sessionTimeoutMs: number,
    /** Whether a stale AlterPartition that asks for the current ISR succeeds (see alterPartition). */
    private readonly retriesIdempotent: boolean,
  ) {
    // Every replica starts registered, empty and in the ISR; the first one leads epoch 0.
    for (const id of replicas) {
      this.brokers.set(id, {
        incarnation: 0,
        brokerEpoch: this.nextBrokerEpoch++,
        fenced: false,
        lastHeartbeatMs: 0,
      });
    }
    this.stateValue = {
      leader: replicas[0]!,
      leaderEpoch: 0,
      partitionEpoch: 0,
      replicas: [...replicas],
      isr: [...replicas],
    };
  }

  get state(): PartitionRegistration {
    return this.stateValue;
  }

  get leaderElections(): number {
    return this.leaderChanges;
  }

  isActive(brokerId: number): boolean {
    const broker = this.brokers.get(brokerId);
    return broker !== undefined && !broker.fenced;
  }

  brokerEpoch(brokerId: number): number {
    return this.brokers.get(brokerId)?.brokerEpoch ?? -1;
  }

  lastHeartbeatMs(brokerId: number): number {
    return this.brokers.get(brokerId)?.lastHeartbeatMs ?? Number.NEGATIVE_INFINITY;
  }

  /** A heartbeat from `incarnation` of `brokerId`; a new incarnation registers first. */
  heartbeat(brokerId: number, incarnation: number, nowMs: number): HeartbeatOutcome {
    const broker = this.brokers.get(brokerId);
    if (broker === undefined) throw new Error(`heartbeat from unknown broker ${brokerId}`);
    if (incarnation < broker.incarnation) throw new Error(`broker ${brokerId}: incarnation went back`);
    if (incarnation > broker.incarnation) {
      if (!broker.fenced && nowMs - broker.lastHeartbeatMs <= this.sessionTimeoutMs) {
        return { kind: 'duplicate-registration' };
      }
      broker.incarnation = incarnation;
      broker.brokerEpoch = this.nextBrokerEpoch++;
      broker.fenced = true;
      this.moveAwayFrom(brokerId);
    }
    broker.lastHeartbeatMs = nowMs;
    if (broker.fenced) {
      broker.fenced = false;
      this.electIfLeaderless();
    }
    return { kind: 'accepted', brokerEpoch: broker.brokerEpoch, state: this.stateValue };
  }

  /** Fences the brokers whose sessions expired, the longest silent first. */
  tick(nowMs: number): void {
    const expired = [...this.brokers.entries()]
      .filter(([, broker]) => !broker.fenced && nowMs - broker.lastHeartbeatMs > this.sessionTimeoutMs)
      .sort(([idA, a], [idB, b]) => a.lastHeartbeatMs - b.lastHeartbeatMs || idA - idB);
    for (const [id, broker] of expired) {
      broker.fenced = true;
      this.moveAwayFrom(id);
    }
  }

  alterPartition(proposal: AlterPartitionProposal): { errorCode: number; state: PartitionRegistration } {
    const answer = (errorCode: number) => ({ errorCode, state: this.stateValue });
    const state = this.stateValue;
    if (this.brokerEpoch(proposal.brokerId) !== proposal.brokerEpoch) {
      return answer(ControllerError.STALE_BROKER_EPOCH);
    }
    if (proposal.leaderEpoch < state.leaderEpoch) return answer(ControllerError.FENCED_LEADER_EPOCH);
    if (proposal.leaderEpoch > state.leaderEpoch) return answer(ControllerError.NOT_CONTROLLER);
    if (state.leader !== proposal.brokerId) return answer(ControllerError.INVALID_REQUEST);
    if (proposal.partitionEpoch < state.partitionEpoch) {
      // A retry of a change already made (its answer was lost) succeeds, as in Kafka's controller
      // (LeaderAndIsr.equalsAllowStalePartitionEpoch); Gregor's controller refuses it.
      const alreadyMade =
        this.retriesIdempotent &&
        proposal.newIsr.length === state.isr.length &&
        proposal.newIsr.every((id) => state.isr.includes(id));
      return answer(alreadyMade ? ControllerError.NONE : ControllerError.INVALID_UPDATE_VERSION);
    }
    if (proposal.partitionEpoch > state.partitionEpoch) return answer(ControllerError.NOT_CONTROLLER);
    const newIsr = proposal.newIsr;
    if (
      newIsr.length === 0 ||
      new Set(newIsr).size !== newIsr.length ||
      !newIsr.includes(state.leader) ||
      !newIsr.every((id) => state.replicas.includes(id))
    ) {
      return answer(ControllerError.INVALID_REQUEST);
    }
    if (!newIsr.every((id) => this.isActive(id))) return answer(ControllerError.INELIGIBLE_REPLICA);
    this.change(state.leader, newIsr);
    return answer(ControllerError.NONE);
  }

  /** `brokerId` stopped being active: out of the ISR (unless last) and, if it led, a new leader. */
  private moveAwayFrom(brokerId: number): void {
    const state = this.stateValue;
    if (state.leader !== brokerId && !state.isr.includes(brokerId)) return;
    const shrunk = state.isr.filter((id) => id !== brokerId);
    this.electFrom(shrunk.length > 0 ? shrunk : state.isr);
  }

  private electIfLeaderless(): void {
    if (this.stateValue.leader === noLeader) this.electFrom(this.stateValue.isr);
  }

  /** Gregor's electLeader with unclean election off. */
  private electFrom(isr: readonly number[]): void {
    const state = this.stateValue;
    const keep = state.leader !== noLeader && isr.includes(state.leader) && this.isActive(state.leader);
    const leader = keep
      ? state.leader
      : (state.replicas.find((id) => isr.includes(id) && this.isActive(id)) ?? noLeader);
    this.change(leader, isr);
  }

  private change(leader: number, isr: readonly number[]): void {
    const state = this.stateValue;
    const leaderChanged = leader !== state.leader;
    const isrChanged = isr.length !== state.isr.length || !isr.every((id) => state.isr.includes(id));
    if (!leaderChanged && !isrChanged) return;
    if (leaderChanged) this.leaderChanges++;
    this.stateValue = {
      leader,
      leaderEpoch: state.leaderEpoch + (leaderChanged ? 1 : 0),
      partitionEpoch: state.partitionEpoch + 1,
      replicas: state.replicas,
      isr: [...isr],
    };
  }
}

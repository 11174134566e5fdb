import type { Partition, PartitionRegistration } from '@gregor/replication';
import { SafetyViolation } from './raft-checker.js';
import { describeBatch, type SimBatch, type SimReplicaLog, sameBatch } from './replication-log.js';

/** What the checker sees of one replica: its log and, while its process runs, its Partition. */
export interface ReplicaView {
  readonly id: number;
  /** Bumped at each crash. */
  readonly incarnation: number;
  readonly log: SimReplicaLog;
  /** Undefined while the replica is down or has not learnt the partition's state yet. */
  readonly partition: Partition<SimReplicaLog> | undefined;
}

function check(condition: boolean, message: () => string): asserts condition {
  if (!condition) throw new SafetyViolation(message());
}

/**
 * The replication safety properties, checked after every simulated event:
 *   - the controller's leader and partition epochs never go back, and no replica's epoch does;
 *   - at most one replica leads each leader epoch;
 *   - a leader's high watermark never goes back within its epoch, and no replica's exceeds its LEO;
 *   - any two running replicas hold the same batches (offsets, epoch, bytes) below the smaller of
 *     their high watermarks;
 *   - every batch acknowledged to an acks=all producer is, byte for byte, in the log of the
 *     controller's current leader once that replica acts as leader of the current epoch (the ISR
 *     model promises it from the moment of election: the new leader was in the ISR, and every ISR
 *     member held the batch when the high watermark covered it).
 * `finalCheck` then wants every replica to hold the same log up to a batch acknowledged after the heal.
 */
export class ReplicationChecker {
  private lastControllerState: PartitionRegistration | undefined;
  private readonly leaderOfEpoch = new Map<number, number>();
  /** The highest high watermark the leader of each epoch has shown. */
  private readonly leaderHighWatermark = new Map<number, number>();
  private readonly lastEpochOf = new Map<number, number>();
  private readonly acknowledged: SimBatch[] = [];
  /** How many acknowledged batches the current leader is known to hold, and which leader that was. */
  private verified = { key: '', count: 0 };

  get acknowledgedBatches(): readonly SimBatch[] {
    return this.acknowledged;
  }

  /** The leader answered an acks=all produce with success: this batch must never be lost. */
  onAcknowledged(leader: ReplicaView, batch: SimBatch): void {
    const partition = leader.partition;
    check(
      partition !== undefined && partition.highWatermark > batch.lastOffset,
      () => `replica ${leader.id} acknowledged ${describeBatch(batch)} above its high watermark`,
    );
    this.acknowledged.push(batch);
  }

  checkAll(controller: PartitionRegistration, replicas: readonly ReplicaView[]): void {
    this.checkController(controller);
    for (const replica of replicas) this.checkReplica(replica);
    for (let i = 0; i < replicas.length; i++) {
      for (let j = i + 1; j < replicas.length; j++) this.checkAgreement(replicas[i]!, replicas[j]!);
    }
    this.checkAcknowledgedOnLeader(controller, replicas);
  }

  /**
   * After the final heal, once a batch acknowledged since then reached every replica: below the end
   * of that batch (`boundOffset`) every replica holds the same batches, acknowledged ones included.
   */
  finalCheck(controller: PartitionRegistration, replicas: readonly ReplicaView[], boundOffset: number): void {
    this.checkAll(controller, replicas);
    const leader = replicas.find((replica) => replica.id === controller.leader);
    check(leader !== undefined, () => `no leader at the end`);
    const count = leader.log.batchCountBelow(boundOffset);
    for (const replica of replicas) {
      check(
        replica.log.batchCountBelow(boundOffset) === count && sameDigest(replica.log, leader.log, count),
        () =>
          `replica ${replica.id} and leader ${leader.id} disagree below ${boundOffset}: batch #` +
          `${firstDifference(replica.log, leader.log, count)}`,
      );
      for (const batch of this.acknowledged) {
        if (batch.baseOffset >= boundOffset) continue;
        const held = replica.log.batchAt(batch.baseOffset);
        check(
          held !== undefined && sameBatch(held, batch),
          () => `replica ${replica.id} lost acknowledged ${describeBatch(batch)}: has ${describeBatch(held)}`,
        );
      }
    }
  }

  private checkController(state: PartitionRegistration): void {
    const last = this.lastControllerState;
    check(
      last === undefined ||
        (state.leaderEpoch >= last.leaderEpoch && state.partitionEpoch >= last.partitionEpoch),
      () => `controller epochs went back: ${JSON.stringify(last)} -> ${JSON.stringify(state)}`,
    );
    check(
      state.leader === -1 || state.isr.includes(state.leader),
      () => `controller elected ${state.leader} outside the ISR ${state.isr}`,
    );
    this.lastControllerState = state;
  }

  private checkReplica(replica: ReplicaView): void {
    const partition = replica.partition;
    if (partition === undefined) return;
    const id = replica.id;
    const highWatermark = partition.highWatermark;
    check(
      highWatermark <= replica.log.logEndOffset && highWatermark >= replica.log.logStartOffset,
      () =>
        `replica ${id}: high watermark ${highWatermark} outside [${replica.log.logStartOffset}, ${replica.log.logEndOffset}]`,
    );
    const epoch = partition.leaderEpoch;
    const lastEpoch = this.lastEpochOf.get(id) ?? -1;
    check(epoch >= lastEpoch, () => `replica ${id}: leader epoch went back from ${lastEpoch} to ${epoch}`);
    this.lastEpochOf.set(id, epoch);
    if (partition.role !== 'leader') return;
    const leaderOfEpoch = this.leaderOfEpoch.get(epoch);
    check(
      leaderOfEpoch === undefined || leaderOfEpoch === id,
      () => `two leaders in epoch ${epoch}: ${leaderOfEpoch} and ${id}`,
    );
    this.leaderOfEpoch.set(epoch, id);
    const previous = this.leaderHighWatermark.get(epoch) ?? -1;
    check(
      highWatermark >= previous,
      () => `leader ${id} of epoch ${epoch}: high watermark went back from ${previous} to ${highWatermark}`,
    );
    this.leaderHighWatermark.set(epoch, highWatermark);
  }

  /** Batches that start below min(hw_a, hw_b) must be the same list on both replicas. */
  private checkAgreement(a: ReplicaView, b: ReplicaView): void {
    if (a.partition === undefined || b.partition === undefined) return;
    const bound = Math.min(a.partition.highWatermark, b.partition.highWatermark);
    const countA = a.log.batchCountBelow(bound);
    const countB = b.log.batchCountBelow(bound);
    if (countA === countB && sameDigest(a.log, b.log, countA)) return;
    const first = firstDifference(a.log, b.log, Math.max(countA, countB));
    throw new SafetyViolation(
      `replicas ${a.id} (hw ${a.partition.highWatermark}) and ${b.id} (hw ${b.partition.highWatermark}) ` +
        `disagree below ${bound}: batch #${first} is ${describeBatch(a.log.batches[first])} on ${a.id}, ` +
        `${describeBatch(b.log.batches[first])} on ${b.id}`,
    );
  }

  private checkAcknowledgedOnLeader(
    controller: PartitionRegistration,
    replicas: readonly ReplicaView[],
  ): void {
    const leader = replicas.find((replica) => replica.id === controller.leader);
    const partition = leader?.partition;
    if (
      leader === undefined ||
      partition === undefined ||
      partition.role !== 'leader' ||
      partition.leaderEpoch !== controller.leaderEpoch
    ) {
      return;
    }
    // A leader never truncates; should it (a bug), the truncation count makes everything re-checked.
    const key = `${leader.id}/${leader.incarnation}/${partition.leaderEpoch}/${leader.log.truncations}`;
    if (this.verified.key !== key) this.verified = { key, count: 0 };
    for (let index = this.verified.count; index < this.acknowledged.length; index++) {
      const batch = this.acknowledged[index]!;
      const held = leader.log.batchAt(batch.baseOffset);
      check(
        held !== undefined && sameBatch(held, batch),
        () =>
          `acknowledged ${describeBatch(batch)} is not on leader ${leader.id} of epoch ${partition.leaderEpoch}: ` +
          `it has ${describeBatch(held)}`,
      );
    }
    this.verified.count = this.acknowledged.length;
  }
}

function sameDigest(a: SimReplicaLog, b: SimReplicaLog, batchCount: number): boolean {
  const x = a.prefixDigest(batchCount);
  const y = b.prefixDigest(batchCount);
  return x.a === y.a && x.b === y.b;
}

function firstDifference(a: SimReplicaLog, b: SimReplicaLog, upTo: number): number {
  for (let index = 0; index < upTo; index++) {
    const x = a.batches[index];
    const y = b.batches[index];
    if (x === undefined || y === undefined || !sameBatch(x, y)) return index;
  }
  return upTo;
}

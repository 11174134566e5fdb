// The `__consumer_offsets` partitions this coordinator owns (Kafka's CoordinatorRuntime, per
// partition): whether each is loading or loaded, the records seen while loading (last record per key
// wins), and the appends asked for and not completed yet, which must complete in the order they were
// asked for. A completed append hands back the continuation it was asked with; what that means is the
// managers' business.

import { invariant } from '@gregor/ground';
import { type DecodedConsumerGroupRecord, decodeConsumerGroupRecord } from './consumer-group-records.js';
import { coordinatorPartitionFor } from './java-hash.js';
import type { AppendToken, GroupEffect, TransactionalProducer } from './messages.js';
import {
  decodeOffsetsRecord,
  type GroupMetadataValue,
  type OffsetCommitValue,
  type OffsetsRecord,
} from './offsets-records.js';

export type OffsetsPartitionStatus = 'loading' | 'loaded';

/** A group as the log left it, once every record of its partition was read. */
export interface StagedGroup {
  /** undefined: no metadata record seen; null: the last one was a tombstone. */
  value: GroupMetadataValue | null | undefined;
  /** Per topic-partition, in log order of their last record; null values are tombstones. */
  readonly offsets: Map<string, { topic: string; partition: number; value: OffsetCommitValue | null }>;
}

export interface LoadStage {
  readonly groups: Map<string, StagedGroup>;
  /** KIP-848 consumer group records in log order (the consumer group manager keeps the last per key). */
  readonly consumerGroupRecords: DecodedConsumerGroupRecord[];
  recordCount: number;
  unknownRecordCount: number;
}

interface PartitionState {
  status: OffsetsPartitionStatus;
  /** Appends asked for and not yet completed, oldest first. */
  readonly appendTokens: AppendToken[];
}

/** What the managers need to know of ownership: whether a partition is loading, loaded or not ours. */
export interface OffsetsPartitionStatusView {
  statusOf(partitionIndex: number): OffsetsPartitionStatus | undefined;
  anyLoading(): boolean;
}

export class OffsetsPartitions<C> implements OffsetsPartitionStatusView {
  private readonly partitions = new Map<number, PartitionState>();
  private readonly loadStages = new Map<number, LoadStage>();
  private readonly pendingAppends = new Map<AppendToken, { partitionIndex: number; continuation: C }>();
  private nextAppendToken: AppendToken = 1;

  constructor(
    private readonly partitionCount: number,
    /** Where `append` effects go. */
    private readonly emit: (effect: GroupEffect) => void,
  ) {}

  statusOf(partitionIndex: number): OffsetsPartitionStatus | undefined {
    return this.partitions.get(partitionIndex)?.status;
  }

  anyLoading(): boolean {
    return [...this.partitions.values()].some((p) => p.status === 'loading');
  }

  owned(): number[] {
    return [...this.partitions.keys()].sort((a, b) => a - b);
  }

  has(partitionIndex: number): boolean {
    return this.partitions.has(partitionIndex);
  }

  // ---------------------------------------------------------------- loading

  beginLoad(partitionIndex: number): void {
    invariant(
      Number.isInteger(partitionIndex) && partitionIndex >= 0 && partitionIndex < this.partitionCount,
      () => `offsets partition ${partitionIndex} outside [0, ${this.partitionCount})`,
    );
    invariant(
      !this.partitions.has(partitionIndex),
      () => `offsets partition ${partitionIndex} is already owned`,
    );
    this.partitions.set(partitionIndex, { status: 'loading', appendTokens: [] });
    this.loadStages.set(partitionIndex, {
      groups: new Map(),
      consumerGroupRecords: [],
      recordCount: 0,
      unknownRecordCount: 0,
    });
  }

  /** Stages the partition's records in log order (may be called once per batch). Last record per key wins. */
  loadRecords(partitionIndex: number, records: Iterable<OffsetsRecord>): void {
    const stage = this.loadStages.get(partitionIndex);
    invariant(stage !== undefined, () => `offsets partition ${partitionIndex} is not loading`);
    for (const record of records) {
      stage.recordCount++;
      const decoded = decodeOffsetsRecord(record);
      if (decoded.kind === 'unknown') {
        const consumerGroupRecord = decodeConsumerGroupRecord(record);
        if (
          consumerGroupRecord !== null &&
          coordinatorPartitionFor(consumerGroupRecord.group, this.partitionCount) === partitionIndex
        ) {
          stage.consumerGroupRecords.push(consumerGroupRecord);
          continue;
        }
      }
      if (
        decoded.kind === 'unknown' ||
        coordinatorPartitionFor(decoded.group, this.partitionCount) !== partitionIndex
      ) {
        // A record type we do not handle, or a group that hashes elsewhere (only possible if the
        // partition count changed, which Kafka does not support either): not ours to interpret.
        stage.unknownRecordCount++;
        continue;
      }
      let staged = stage.groups.get(decoded.group);
      if (staged === undefined) {
        staged = { value: undefined, offsets: new Map() };
        stage.groups.set(decoded.group, staged);
      }
      if (decoded.kind === 'groupMetadata') {
        staged.value = decoded.value;
      } else {
        const key = `${decoded.topic}\u0000${decoded.partition}`;
        // Delete then set, so a re-committed partition moves to the end like the log order.
        staged.offsets.delete(key);
        staged.offsets.set(key, { topic: decoded.topic, partition: decoded.partition, value: decoded.value });
      }
    }
  }

  /** Ends the staging: returns what the partition's log held, to build its groups from. */
  finishLoading(partitionIndex: number): LoadStage {
    const stage = this.loadStages.get(partitionIndex);
    invariant(
      stage !== undefined && this.partitions.has(partitionIndex),
      () => `offsets partition ${partitionIndex} is not loading`,
    );
    this.loadStages.delete(partitionIndex);
    return stage;
  }

  /** The partition's groups are built: its requests are served from now on. */
  markLoaded(partitionIndex: number): void {
    const partition = this.partitions.get(partitionIndex);
    invariant(partition?.status === 'loading', () => `offsets partition ${partitionIndex} is not loading`);
    partition.status = 'loaded';
  }

  /**
   * Forgets the partition (this broker no longer leads it); returns the continuations of its appends
   * still out, whose completions are ignored from now on.
   */
  unload(partitionIndex: number): C[] {
    const cancelled: C[] = [];
    for (const [token, pending] of [...this.pendingAppends]) {
      if (pending.partitionIndex !== partitionIndex) continue;
      this.pendingAppends.delete(token);
      cancelled.push(pending.continuation);
    }
    this.partitions.delete(partitionIndex);
    this.loadStages.delete(partitionIndex);
    return cancelled;
  }

  // ---------------------------------------------------------------- appends

  /** Asks the driver to append `records` as one batch; `continuation` comes back on completion. */
  append(
    partitionIndex: number,
    records: OffsetsRecord[],
    continuation: C,
    producer?: TransactionalProducer,
  ): void {
    const partition = this.partitions.get(partitionIndex);
    invariant(
      partition?.status === 'loaded',
      () => `append to offsets partition ${partitionIndex}, which is not loaded`,
    );
    const token = this.nextAppendToken++;
    partition.appendTokens.push(token);
    this.pendingAppends.set(token, { partitionIndex, continuation });
    this.emit(
      producer === undefined
        ? { kind: 'append', partitionIndex, token, records }
        : { kind: 'append', partitionIndex, token, records, producer },
    );
  }

  /**
   * The append of `token` finished: its continuation, or undefined for an append of a partition
   * unloaded meanwhile. Appends of one partition must complete in the order they were asked for.
   */
  completeAppend(token: AppendToken): C | undefined {
    const pending = this.pendingAppends.get(token);
    if (pending === undefined) {
      invariant(
        token > 0 && token < this.nextAppendToken,
        () => `append token ${token} was never handed out`,
      );
      return undefined;
    }
    const partition = this.partitions.get(pending.partitionIndex);
    invariant(partition !== undefined, 'pending append of an unowned partition');
    invariant(
      partition.appendTokens[0] === token,
      () =>
        `appends to offsets partition ${pending.partitionIndex} must complete in order: got ${token}, expected ${partition.appendTokens[0]}`,
    );
    partition.appendTokens.shift();
    this.pendingAppends.delete(token);
    return pending.continuation;
  }
}

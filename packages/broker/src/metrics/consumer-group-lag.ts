// kafka-exporter's kafka_consumergroup_lag as the group coordinator's node computes it: for every
// partition a group committed, the partition's high watermark as its current leader answers it
// (ListOffsets latest) minus the committed offset, floored at 0.
//
// The high watermarks come from the leaders: this broker's own replica when it leads the partition,
// otherwise one call per leader broker carrying every partition wanted from it, all leaders in
// parallel, each bounded by leaderHighWatermarkTimeoutMs so a scrape never waits on a dead or stuck
// node. A partition without a leader, whose leader failed or did not answer in time, or whose leader
// says it does not lead it (any error code) has no lag series in that scrape: a missing series is
// honest, a follower's older high watermark or the last scrape's value would not be.
//
// No I/O here: the readers are passed in (the node's replica manager and gRPC clients, or fakes).

import { ErrorCode } from '@gregor/protocol';
import type {
  HighWatermarkPartition,
  PartitionHighWatermark,
} from '../replication/leader-high-watermarks-grpc.js';

/**
 * How long a scrape waits for another leader's high watermarks: well under Prometheus's default
 * scrape_timeout (10 s), so a stuck leader costs its series, never the scrape.
 */
export const leaderHighWatermarkTimeoutMs = 2_000;

export interface ConsumerGroupOffset {
  readonly groupId: string;
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
}

export interface ConsumerGroupLag {
  readonly groupId: string;
  readonly topic: string;
  readonly partition: number;
  readonly lag: number;
}

/** What one leader answered for the partitions it was asked about, or why it did not. */
export type LeaderAnswer =
  | { readonly leaderId: number; readonly ok: true; readonly partitions: readonly PartitionHighWatermark[] }
  | { readonly leaderId: number; readonly ok: false; readonly reason: string };

/** The broker the metadata image names as the partition's leader; undefined or -1 for none. */
export type LeaderOf = (topic: string, partition: number) => number | undefined;

export interface HighWatermarkReaders {
  readonly localBrokerId: number;
  /** This broker's answer for partitions the image says it leads. */
  readLocal(partitions: readonly HighWatermarkPartition[]): Promise<readonly PartitionHighWatermark[]>;
  /** Another leader's answer; rejects when it could not be asked or did not answer in time. */
  readRemote(
    leaderId: number,
    partitions: readonly HighWatermarkPartition[],
  ): Promise<readonly PartitionHighWatermark[]>;
}

export function partitionKey(topic: string, partition: number): string {
  return `${topic}-${partition}`;
}

/** The distinct partitions of `offsets`, by the broker leading each; leaderless ones are left out. */
export function partitionsByLeader(
  offsets: readonly ConsumerGroupOffset[],
  leaderOf: LeaderOf,
): Map<number, HighWatermarkPartition[]> {
  const byLeader = new Map<number, HighWatermarkPartition[]>();
  const seen = new Set<string>();
  for (const { topic, partition } of offsets) {
    const key = partitionKey(topic, partition);
    if (seen.has(key)) continue;
    seen.add(key);
    const leaderId = leaderOf(topic, partition);
    if (leaderId === undefined || leaderId < 0) continue;
    let partitions = byLeader.get(leaderId);
    if (partitions === undefined) {
      partitions = [];
      byLeader.set(leaderId, partitions);
    }
    partitions.push({ topic, partition });
  }
  return byLeader;
}

/**
 * The high watermarks the leaders vouched for, by partitionKey. A failed leader contributes
 * nothing; an entry with an error code, a negative high watermark, or for a partition that was not
 * asked of that leader is left out.
 */
export function mergeLeaderHighWatermarks(
  asked: ReadonlyMap<number, readonly HighWatermarkPartition[]>,
  answers: readonly LeaderAnswer[],
): Map<string, number> {
  const highWatermarks = new Map<string, number>();
  for (const answer of answers) {
    if (!answer.ok) continue;
    const askedKeys = new Set(
      (asked.get(answer.leaderId) ?? []).map(({ topic, partition }) => partitionKey(topic, partition)),
    );
    for (const { topic, partition, errorCode, highWatermark } of answer.partitions) {
      const key = partitionKey(topic, partition);
      if (errorCode !== ErrorCode.NONE || highWatermark < 0 || !askedKeys.has(key)) continue;
      highWatermarks.set(key, highWatermark);
    }
  }
  return highWatermarks;
}

/** Lag per committed offset whose partition has a high watermark: max(0, hw - committed). */
export function consumerGroupLags(
  offsets: readonly ConsumerGroupOffset[],
  highWatermarks: ReadonlyMap<string, number>,
): ConsumerGroupLag[] {
  const lags: ConsumerGroupLag[] = [];
  for (const { groupId, topic, partition, offset } of offsets) {
    const highWatermark = highWatermarks.get(partitionKey(topic, partition));
    if (highWatermark === undefined) continue;
    lags.push({ groupId, topic, partition, lag: Math.max(0, highWatermark - offset) });
  }
  return lags;
}

/**
 * The high watermarks of the partitions of `offsets`, each from its leader: every leader asked at
 * once (this broker through `readLocal`), and whatever answered merged. Never rejects.
 */
export async function readLeaderHighWatermarks(
  offsets: readonly ConsumerGroupOffset[],
  leaderOf: LeaderOf,
  readers: HighWatermarkReaders,
): Promise<Map<string, number>> {
  const asked = partitionsByLeader(offsets, leaderOf);
  const answers = await Promise.all(
    [...asked].map(async ([leaderId, partitions]): Promise<LeaderAnswer> => {
      try {
        const answered =
          leaderId === readers.localBrokerId
            ? await readers.readLocal(partitions)
            : await readers.readRemote(leaderId, partitions);
        return { leaderId, ok: true, partitions: answered };
      } catch (error) {
        return { leaderId, ok: false, reason: String(error) };
      }
    }),
  );
  return mergeLeaderHighWatermarks(asked, answers);
}

// A transaction coordinator's markers on the leader (WriteTxnMarkers; Kafka's
// KafkaApis.handleWriteTxnMarkersRequest): each marker becomes a control batch appended through
// the leader appends with acks=all, since the coordinator completes a transaction only once every
// marker is replicated. Listeners hear of each marker written (the group coordinator's offsets).

import type { Clock } from '@gregor/ground';
import { ErrorCode, encodeTransactionMarkerBatch, type TransactionMarker } from '@gregor/protocol';
import type { LeaderAppends } from './leader-appends.js';

/** One marker of a WriteTxnMarkers request: a transaction's outcome for some of its partitions. */
export interface TxnMarkerRequest extends TransactionMarker {
  readonly partitions: readonly { readonly topic: string; readonly partition: number }[];
}

export interface TxnMarkerPartitionResult {
  readonly topic: string;
  readonly partition: number;
  readonly errorCode: number;
}

export type TransactionMarkerListener = (topic: string, partition: number, marker: TransactionMarker) => void;

export interface TxnMarkerAppendsOptions {
  readonly leaderAppends: LeaderAppends;
  readonly clock: Clock;
}

export class TxnMarkerAppends {
  private readonly markerListeners: TransactionMarkerListener[] = [];

  constructor(private readonly options: TxnMarkerAppendsOptions) {}

  /** Called after each transaction marker this broker wrote as leader. */
  onTransactionMarkerWritten(listener: TransactionMarkerListener): void {
    this.markerListeners.push(listener);
  }

  /**
   * Appends each marker to the named partitions this broker leads, acks=all. One result per marker
   * and partition, in request order.
   */
  writeTxnMarkers(
    markers: readonly TxnMarkerRequest[],
    timeoutMs: number,
  ): Promise<TxnMarkerPartitionResult[][]> {
    return Promise.all(markers.map((marker) => this.writeMarker(marker, timeoutMs)));
  }

  private async writeMarker(
    marker: TxnMarkerRequest,
    timeoutMs: number,
  ): Promise<TxnMarkerPartitionResult[]> {
    // A marker names a real producer: an id or epoch no producer can have is refused, not stored.
    if (
      !Number.isSafeInteger(marker.producerId) ||
      marker.producerId < 0 ||
      !Number.isInteger(marker.producerEpoch) ||
      marker.producerEpoch < 0 ||
      marker.producerEpoch > 0x7fff
    ) {
      return marker.partitions.map(({ topic, partition }) => ({
        topic,
        partition,
        errorCode: ErrorCode.INVALID_REQUEST,
      }));
    }
    const batch = encodeTransactionMarkerBatch(marker, this.options.clock.nowMs());
    const results = await this.options.leaderAppends.appendRecords(
      marker.partitions.map(({ topic, partition }) => ({
        topic,
        partition,
        records: Buffer.from(batch),
      })),
      -1,
      timeoutMs,
      'coordinator',
    );
    for (const [index, result] of results.entries()) {
      if (result.errorCode === ErrorCode.NONE) {
        const { topic, partition } = marker.partitions[index]!;
        for (const listener of this.markerListeners) listener(topic, partition, marker);
      }
    }
    return results.map(({ topic, partition, errorCode }) => ({ topic, partition, errorCode }));
  }
}

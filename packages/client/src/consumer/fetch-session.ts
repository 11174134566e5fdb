// One incremental fetch session (KIP-227) with one broker, as the Java client's FetchSessionHandler
// keeps it: the first Fetch is full (epoch 0) and names every partition; once the broker answers with
// a session id, each Fetch carries the next epoch, only the partitions added or changed since the
// last one, and the dropped ones as forgotten. A broker that answers session id 0 keeps no session:
// every Fetch stays full. FETCH_SESSION_ID_NOT_FOUND starts over with a new session;
// INVALID_FETCH_SESSION_EPOCH and a failed request start over while closing the old one.

import { ErrorCode } from '@gregor/protocol';

/** What one partition's entry of a Fetch asks. */
export interface SessionPartition {
  readonly topic: string;
  readonly partition: number;
  readonly fetchOffset: bigint;
  readonly partitionMaxBytes: number;
}

export interface SessionFetch {
  readonly sessionId: number;
  readonly sessionEpoch: number;
  /** A full fetch names every partition; an incremental one only the added and changed ones. */
  readonly full: boolean;
  readonly partitions: readonly SessionPartition[];
  readonly forgotten: readonly { readonly topic: string; readonly partitions: readonly number[] }[];
}

const noSession = 0;
const initialEpoch = 0;
/** The epoch of a Fetch that closes the session it names (Kafka's FINAL_EPOCH). */
export const closeSessionEpoch = -1;

const keyOf = (topic: string, partition: number) => `${partition}:${topic}`;

/** Kafka's FetchMetadata.nextEpoch: after the largest int comes 1 (0 means "full fetch"). */
function nextEpoch(epoch: number): number {
  return epoch === 0x7fffffff ? 1 : epoch + 1;
}

export class FetchSessionHandler {
  private sessionId = noSession;
  private epoch = initialEpoch;
  /** The partitions the broker's session holds, as the last request left them. */
  private sessionPartitions = new Map<string, SessionPartition>();

  /** The next Fetch for these partitions (all that should be fetched from this broker now). */
  build(partitions: readonly SessionPartition[]): SessionFetch {
    const next = new Map(
      partitions.map((partition) => [keyOf(partition.topic, partition.partition), partition]),
    );
    const previous = this.sessionPartitions;
    this.sessionPartitions = next;
    if (this.epoch === initialEpoch) {
      return { sessionId: this.sessionId, sessionEpoch: initialEpoch, full: true, partitions, forgotten: [] };
    }
    const changed = partitions.filter((partition) => {
      const before = previous.get(keyOf(partition.topic, partition.partition));
      return (
        before === undefined ||
        before.fetchOffset !== partition.fetchOffset ||
        before.partitionMaxBytes !== partition.partitionMaxBytes
      );
    });
    const forgotten = new Map<string, number[]>();
    for (const [key, partition] of previous) {
      if (next.has(key)) continue;
      forgotten.set(partition.topic, [...(forgotten.get(partition.topic) ?? []), partition.partition]);
    }
    return {
      sessionId: this.sessionId,
      sessionEpoch: this.epoch,
      full: false,
      partitions: changed,
      forgotten: [...forgotten].map(([topic, indexes]) => ({ topic, partitions: indexes })),
    };
  }

  /** What the broker answered to `request`: false when the answer is an error of the session. */
  handleResponse(request: SessionFetch, response: { errorCode: number; sessionId: number }): boolean {
    if (response.errorCode !== ErrorCode.NONE) {
      if (response.errorCode === ErrorCode.FETCH_SESSION_ID_NOT_FOUND) this.sessionId = noSession;
      // Otherwise the next full fetch names the session, which closes it on the broker.
      this.epoch = initialEpoch;
      return false;
    }
    if (response.sessionId === noSession) {
      // No session given (or the broker closed it): fetch in full again.
      this.sessionId = noSession;
      this.epoch = initialEpoch;
      return true;
    }
    if (request.full) {
      this.sessionId = response.sessionId;
      this.epoch = nextEpoch(initialEpoch);
    } else {
      this.epoch = nextEpoch(this.epoch);
    }
    return true;
  }

  /** The request failed (no answer): the next fetch is full, and closes the session it names. */
  handleError(): void {
    this.epoch = initialEpoch;
  }

  /** Whether the broker holds a session for this consumer (for closing it). */
  get openSessionId(): number {
    return this.sessionId;
  }
}

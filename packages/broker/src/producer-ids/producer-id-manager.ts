// Hands out producer ids on this broker from blocks the active controller allocates
// (AllocateProducerIds): each block is recorded in the metadata log before the controller answers,
// so no two brokers, and no two incarnations of one broker, ever hand out the same id. As Kafka's
// RPCProducerIdManager, the next block is fetched once 90% of the current one is used, so a busy
// broker rarely waits on the controller; one fetch at a time.
//
// Pure apart from the block source it is given: no clock, no I/O of its own.

import { invariant } from '@gregor/ground';
import { ErrorCode } from '@gregor/protocol';

/** Ids of one block still unused when the next block is fetched: Kafka prefetches at 90% used. */
export const producerIdPrefetchFraction = 0.1;
/** Fetches one request may wait for (blocks used up by concurrent requests in between). */
export const producerIdBlockFetchesPerRequestMax = 3;

export interface ProducerIdBlock {
  readonly firstProducerId: number;
  readonly producerIdCount: number;
}

export type ProducerIdBlockResult =
  | { readonly ok: true; readonly block: ProducerIdBlock }
  | { readonly ok: false; readonly errorCode: number; readonly message: string };

/** Where blocks come from: the controller over the quorum in a node, the in-process one in tests. */
export interface ProducerIdBlockSource {
  allocateBlock(): Promise<ProducerIdBlockResult>;
}

export type ProducerIdResult =
  | { readonly ok: true; readonly producerId: number }
  | { readonly ok: false; readonly errorCode: number; readonly message: string };

export class ProducerIdManager {
  private nextId = 0;
  private endId = 0;
  private blockSize = 0;
  private prefetched: ProducerIdBlock | undefined;
  private fetching: Promise<ProducerIdBlockResult> | undefined;
  /** End of the latest block received: blocks only move forward. */
  private highestEndId = 0;

  constructor(private readonly source: ProducerIdBlockSource) {}

  /** The next unused producer id, or a retriable error when no block could be had. */
  async nextProducerId(): Promise<ProducerIdResult> {
    for (let fetches = 0; ; ) {
      if (this.nextId >= this.endId && this.prefetched !== undefined) {
        this.nextId = this.prefetched.firstProducerId;
        this.endId = this.nextId + this.prefetched.producerIdCount;
        this.blockSize = this.prefetched.producerIdCount;
        this.prefetched = undefined;
      }
      if (this.nextId < this.endId) {
        const producerId = this.nextId++;
        if (this.endId - this.nextId <= Math.floor(this.blockSize * producerIdPrefetchFraction)) {
          void this.fetchBlock();
        }
        return { ok: true, producerId };
      }
      if (fetches >= producerIdBlockFetchesPerRequestMax) {
        return {
          ok: false,
          errorCode: ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
          message: `producer id blocks used up ${fetches} times while this request waited`,
        };
      }
      fetches++;
      const result = await this.fetchBlock();
      if (!result.ok) {
        // Kafka answers COORDINATOR_LOAD_IN_PROGRESS while it has no block: clients retry it.
        return { ok: false, errorCode: ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, message: result.message };
      }
    }
  }

  /** Starts (or joins) the one block fetch; a received block waits in `prefetched`. */
  private fetchBlock(): Promise<ProducerIdBlockResult> {
    if (this.fetching !== undefined) return this.fetching;
    if (this.prefetched !== undefined) return Promise.resolve({ ok: true, block: this.prefetched });
    const fetching = this.source.allocateBlock().then(
      (result) => {
        this.fetching = undefined;
        if (result.ok) {
          const { firstProducerId, producerIdCount } = result.block;
          invariant(
            Number.isSafeInteger(firstProducerId) &&
              producerIdCount > 0 &&
              firstProducerId >= this.highestEndId,
            () =>
              `producer id block [${firstProducerId}, +${producerIdCount}) overlaps ids before ${this.highestEndId}`,
          );
          this.highestEndId = firstProducerId + producerIdCount;
          this.prefetched = result.block;
        }
        return result;
      },
      (error: unknown): ProducerIdBlockResult => {
        this.fetching = undefined;
        return { ok: false, errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, message: String(error) };
      },
    );
    this.fetching = fetching;
    return fetching;
  }
}

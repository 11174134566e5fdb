// The metadata state machine every node runs: committed Raft entries (each a batch of metadata
// records, proposed atomically by the controller) are applied in log order to an immutable
// MetadataImage, and listeners (the replica manager, request handlers) see each new image.

import {
  applyRecords,
  decodeImageSnapshot,
  decodeMetadataBatch,
  encodeImageSnapshot,
  MetadataImage,
} from '@gregor/metadata';

export interface CommittedEntry {
  readonly offset: number;
  /** Control entries (a new leader's leader-change marker) carry no metadata records. */
  readonly type: 'data' | 'leader-change';
  readonly payload: Uint8Array;
}

export type ImageListener = (image: MetadataImage, previous: MetadataImage, appliedOffset: number) => void;

interface OffsetWaiter {
  readonly offset: number;
  readonly resolve: (reached: boolean) => void;
  readonly timer: NodeJS.Timeout;
}

export class MetadataPublisher {
  private currentImage: MetadataImage = MetadataImage.empty;
  private applied = -1;
  private readonly listeners: ImageListener[] = [];
  private waiters: OffsetWaiter[] = [];

  get image(): MetadataImage {
    return this.currentImage;
  }

  /** Offset of the last entry applied (-1: none). */
  get appliedOffset(): number {
    return this.applied;
  }

  onImage(listener: ImageListener): void {
    this.listeners.push(listener);
  }

  /** Applies committed entries in order; one image per call, so listeners see whole batches. */
  apply(entries: readonly CommittedEntry[]): void {
    if (entries.length === 0) return;
    const previous = this.currentImage;
    let image = previous;
    for (const entry of entries) {
      if (entry.offset <= this.applied) {
        throw new Error(`metadata entry ${entry.offset} applied twice (applied up to ${this.applied})`);
      }
      if (entry.type === 'data') image = applyRecords(image, decodeMetadataBatch(Buffer.from(entry.payload)));
      this.applied = entry.offset;
    }
    this.publish(image, previous);
  }

  /** State-machine snapshot for Raft: the image plus the offset it covers (exclusive end). */
  snapshot(): { bytes: Uint8Array; endOffset: number } {
    return { bytes: encodeImageSnapshot(this.currentImage), endOffset: this.applied + 1 };
  }

  /** Replaces the state with a snapshot (on restart, or one fetched from the leader). */
  restore(bytes: Uint8Array, endOffset: number): void {
    const previous = this.currentImage;
    this.applied = endOffset - 1;
    this.publish(decodeImageSnapshot(Buffer.from(bytes)), previous);
  }

  /** Resolves true once `offset` has been applied here, false after `timeoutMs`. */
  waitForOffset(offset: number, timeoutMs: number): Promise<boolean> {
    if (this.applied >= offset) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiter: OffsetWaiter = {
        offset,
        resolve,
        timer: setTimeout(() => {
          this.waiters = this.waiters.filter((other) => other !== waiter);
          resolve(false);
        }, timeoutMs),
      };
      this.waiters.push(waiter);
    });
  }

  private publish(image: MetadataImage, previous: MetadataImage): void {
    this.currentImage = image;
    for (const listener of this.listeners) listener(image, previous, this.applied);
    if (this.waiters.length === 0) return;
    const still: OffsetWaiter[] = [];
    for (const waiter of this.waiters) {
      if (waiter.offset <= this.applied) {
        clearTimeout(waiter.timer);
        waiter.resolve(true);
      } else {
        still.push(waiter);
      }
    }
    this.waiters = still;
  }

  close(): void {
    for (const waiter of this.waiters) {
      clearTimeout(waiter.timer);
      waiter.resolve(false);
    }
    this.waiters = [];
  }
}

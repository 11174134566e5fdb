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
import { OffsetWatermark } from './offset-watermark.js';

export interface CommittedEntry {
  readonly offset: number;
  /** Control entries (a new leader's leader-change marker) carry no metadata records. */
  readonly type: 'data' | 'leader-change';
  readonly payload: Uint8Array;
}

export type ImageListener = (image: MetadataImage, previous: MetadataImage, appliedOffset: number) => void;

export class MetadataPublisher {
  private currentImage: MetadataImage = MetadataImage.empty;
  private readonly applied = new OffsetWatermark();
  private readonly listeners: ImageListener[] = [];

  get image(): MetadataImage {
    return this.currentImage;
  }

  /** Offset of the last entry applied (-1: none). */
  get appliedOffset(): number {
    return this.applied.offset;
  }

  onImage(listener: ImageListener): void {
    this.listeners.push(listener);
  }

  /** Applies committed entries in order; one image per call, so listeners see whole batches. */
  apply(entries: readonly CommittedEntry[]): void {
    if (entries.length === 0) return;
    const previous = this.currentImage;
    let image = previous;
    let lastOffset = this.applied.offset;
    for (const entry of entries) {
      if (entry.offset <= lastOffset) {
        throw new Error(`metadata entry ${entry.offset} applied twice (applied up to ${lastOffset})`);
      }
      if (entry.type === 'data') image = applyRecords(image, decodeMetadataBatch(Buffer.from(entry.payload)));
      lastOffset = entry.offset;
    }
    this.publish(image, previous, lastOffset);
  }

  /** State-machine snapshot for Raft: the image plus the offset it covers (exclusive end). */
  snapshot(): { bytes: Uint8Array; endOffset: number } {
    return { bytes: encodeImageSnapshot(this.currentImage), endOffset: this.applied.offset + 1 };
  }

  /** Replaces the state with a snapshot (on restart, or one fetched from the leader). */
  restore(bytes: Uint8Array, endOffset: number): void {
    this.publish(decodeImageSnapshot(Buffer.from(bytes)), this.currentImage, endOffset - 1);
  }

  /** Resolves true once `offset` has been applied here, false after `timeoutMs`. */
  waitForOffset(offset: number, timeoutMs: number): Promise<boolean> {
    return this.applied.waitFor(offset, timeoutMs);
  }

  private publish(image: MetadataImage, previous: MetadataImage, appliedOffset: number): void {
    this.currentImage = image;
    for (const listener of this.listeners) listener(image, previous, appliedOffset);
    this.applied.advanceTo(appliedOffset);
  }

  close(): void {
    this.applied.close();
  }
}

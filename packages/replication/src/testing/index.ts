// Test helpers: time that moves only when a test says, an offsets-only log, real record batches.

import type { Clock, TimerHandle, TimerScheduler } from '@gregor/ground';
import { encodeRecordBatch } from '@gregor/protocol';
import type { PartitionLogView, PartitionRegistration } from '../partition.js';

/** A clock and timers that move only on `advanceMs`; due timers fire in time order. */
export class ManualTime implements Clock, TimerScheduler {
  private now = 0;
  private nextId = 1;
  private readonly timers = new Map<number, { atMs: number; callback: () => void }>();

  nowMs(): number {
    return this.now;
  }

  schedule(callback: () => void, delayMs: number): TimerHandle {
    const id = this.nextId++;
    this.timers.set(id, { atMs: this.now + Math.max(0, delayMs), callback });
    return { cancel: () => this.timers.delete(id) };
  }

  get pendingTimers(): number {
    return this.timers.size;
  }

  advanceMs(deltaMs: number): void {
    const until = this.now + deltaMs;
    for (;;) {
      const due = [...this.timers]
        .filter(([, timer]) => timer.atMs <= until)
        .sort(([, a], [, b]) => a.atMs - b.atMs)[0];
      if (due === undefined) break;
      this.timers.delete(due[0]);
      this.now = Math.max(this.now, due[1].atMs);
      due[1].callback();
    }
    this.now = until;
  }
}

/** Lets every promise continuation that is ready run. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A log of whole batches, offsets only: all a Partition reads. */
export class BatchOffsets implements PartitionLogView {
  logStartOffset = 0;
  /** The last offset of each batch, in order. */
  private readonly lastOffsets: number[] = [];

  get logEndOffset(): number {
    return (this.lastOffsets.at(-1) ?? this.logStartOffset - 1) + 1;
  }

  append(recordCount: number): void {
    this.lastOffsets.push(this.logEndOffset + recordCount - 1);
  }

  /** Kafka's truncateTo: every batch holding an offset at or above `offset` goes. */
  truncateTo(offset: number): void {
    while ((this.lastOffsets.at(-1) ?? -1) >= offset) this.lastOffsets.pop();
  }

  /** Kafka's truncateFullyAndStartAt. */
  truncateFullyAndStartAt(offset: number): void {
    this.lastOffsets.length = 0;
    this.logStartOffset = offset;
  }
}

export function registration(
  leader: number,
  leaderEpoch: number,
  isr: number[],
  replicas = [1, 2, 3],
  partitionEpoch = leaderEpoch,
): PartitionRegistration {
  return { leader, leaderEpoch, partitionEpoch, replicas, isr };
}

/** A real record batch of `recordCount` records at `baseOffset`, written by `leaderEpoch`. */
export function batch(baseOffset: number, recordCount: number, leaderEpoch: number): Buffer {
  return encodeRecordBatch({
    baseOffset,
    partitionLeaderEpoch: leaderEpoch,
    records: Array.from({ length: recordCount }, (_, index) => ({
      key: null,
      value: Buffer.from(`r${baseOffset + index}`),
      timestamp: 1_000,
    })),
  });
}

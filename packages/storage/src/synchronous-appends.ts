// The driver of append-write-policy.ts: samples the event loop every `sampleIntervalMs` and writes
// an append synchronously when the policy says so. A synchronous write is a buffered write into the
// page cache (writeSync), not an fsync: durability is the flush policy's, as with the thread pool.
//
// One per process: the event loop it samples is the process's. Off until `start()` (the broker
// starts it when gregor.log.append.synchronous.enable is true); while off, every append goes to
// the thread pool as before. start()/stop() are counted, so brokers sharing a process (tests) can
// each start and stop it.

import { writeSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import {
  AppendWritePolicy,
  type AppendWritePolicyLimits,
  type EventLoopWindow,
} from './append-write-policy.js';

/** How often the event loop is sampled: short enough to follow a busy period, cheap (two calls). */
export const synchronousAppendSampleIntervalMs = 100;

/** Starts calling `onWindow` once per sample window; returns what stops it. */
export type EventLoopSampler = (onWindow: (window: EventLoopWindow) => void) => () => void;

export class SynchronousAppends {
  private policy: AppendWritePolicy;
  private stopSampling: (() => void) | undefined;
  private starts = 0;
  private synchronousWrites = 0;

  constructor(private readonly limits?: AppendWritePolicyLimits) {
    this.policy = new AppendWritePolicy(limits);
  }

  /** The policy now (for logs, metrics and tests). */
  get current(): AppendWritePolicy {
    return this.policy;
  }

  /** Appends written (or tried: a failed one counts) synchronously since the process started. */
  get writes(): number {
    return this.synchronousWrites;
  }

  get running(): boolean {
    return this.stopSampling !== undefined;
  }

  /**
   * Starts sampling (the first start does, with its `sampler`; later ones only count). Writes stay
   * on the thread pool until a quiet hold.
   */
  start(sampler: EventLoopSampler = sampleEventLoop): void {
    this.starts++;
    if (this.stopSampling !== undefined) return;
    const policy = new AppendWritePolicy(this.limits);
    this.policy = policy;
    this.stopSampling = sampler((window) => policy.onWindow(window));
  }

  /** Undoes one start(); the last one stops sampling and sends every append to the thread pool. */
  stop(): void {
    if (this.starts === 0) return;
    this.starts--;
    if (this.starts > 0 || this.stopSampling === undefined) return;
    this.stopSampling();
    this.stopSampling = undefined;
    this.policy = new AppendWritePolicy(this.limits);
  }

  /**
   * Writes all of `buffer` at `position` of `fd` synchronously and returns true, or returns false
   * without writing when the caller must write through the thread pool (off, too large, or the
   * loop busy). A failed write throws as the asynchronous one rejects; part of it may be in the file.
   */
  tryWrite(fd: number, buffer: Buffer, position: number): boolean {
    if (this.stopSampling === undefined || !this.policy.writesSynchronously(buffer.length)) return false;
    this.synchronousWrites++;
    const startMs = performance.now();
    let written = 0;
    // Loops only for a short write (rare on regular files).
    while (written < buffer.length) {
      written += writeSync(fd, buffer, written, buffer.length - written, position + written);
    }
    this.policy.onSynchronousWrite(performance.now() - startMs);
    return true;
  }
}

/**
 * Calls `onWindow` at the end of every window of `synchronousAppendSampleIntervalMs` with the event
 * loop's utilization over it and how late its timer fired; returns what stops it. The timer does
 * not keep the process alive.
 */
export function sampleEventLoop(onWindow: (window: EventLoopWindow) => void): () => void {
  let lastUtilization = performance.eventLoopUtilization();
  let lastMs = performance.now();
  const timer = setInterval(() => {
    const nowMs = performance.now();
    const utilization = performance.eventLoopUtilization();
    const window = performance.eventLoopUtilization(utilization, lastUtilization);
    const lateMs = Math.max(0, nowMs - lastMs - synchronousAppendSampleIntervalMs);
    lastUtilization = utilization;
    lastMs = nowMs;
    onWindow({ endMs: nowMs, utilization: window.utilization, lateMs });
  }, synchronousAppendSampleIntervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** The process's, used by every LogSegment. */
export const synchronousAppends = new SynchronousAppends();

// Splits a TCP byte stream into Kafka frames: INT32 size + `size` bytes.
// A byte-level state machine fed arbitrary chunks, so it is testable without sockets.
//
// Memory, as Kafka's NetworkReceive does it: once a frame's size header is read, the frame's full
// size is reserved from the request memory pool before any of its body is kept, and the body is
// copied into one buffer of exactly that size as it arrives (a frame that arrives inside one chunk
// is a view of that chunk, no copy). A frame that does not fit the pool makes the decoder stop
// taking input until the caller says memory was released. A completed frame's reservation passes
// to the caller, who releases `frame.length` bytes once the request is handled; a partial frame's
// reservation is released here, on close or on an error.

import { invariant } from '@gregor/ground';
import type { FrameMemory } from './request-memory-pool.js';

export const socketRequestMaxBytesDefault = 100 * 1024 * 1024;
const sizeHeaderBytes = 4;

export type FrameDecodeResult =
  | {
      readonly kind: 'frames';
      readonly frames: Buffer[];
      /** Set when the next frame's size does not fit the pool: feed no more input until it might. */
      readonly waitingForMemoryBytes?: number;
    }
  | { readonly kind: 'error'; readonly reason: string; readonly frames: Buffer[] };

type State =
  | { readonly kind: 'size' }
  /** Size read, body not reserved yet (the pool was full). */
  | { readonly kind: 'reserve'; readonly frameBytes: number }
  /** Reserved; the body is copied into `body` as it arrives. */
  | { readonly kind: 'body'; readonly body: Buffer; filledBytes: number };

export interface FrameLimit {
  readonly bytes: number;
  readonly key: string;
}

export class FrameDecoder {
  /** Input not yet part of a frame body: size headers, and bytes held while waiting for memory. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private state: State = { kind: 'size' };
  private failed = false;
  private closed = false;

  constructor(
    private readonly frameMaxBytes: number,
    private readonly memory: FrameMemory,
    /** A lower limit in force for now, and the key that sets it (before SASL authentication). */
    private readonly currentLimit: () => FrameLimit | undefined = () => undefined,
  ) {}

  /** Whether part of a frame has arrived (a request the client has begun to send). */
  get receivingFrame(): boolean {
    return this.pendingBytes > 0 || this.state.kind !== 'size';
  }

  /** Bytes reserved for the frame being received (0 when none is). */
  get partialFrameReservedBytes(): number {
    return this.state.kind === 'body' ? this.state.body.length : 0;
  }

  /**
   * Feeds a chunk (an empty one after memory was released, to try again); returns every frame it
   * completes. After an error the decoder refuses further input.
   */
  push(chunk: Buffer): FrameDecodeResult {
    if (this.failed) return { kind: 'error', reason: 'decoder already failed', frames: [] };
    if (this.closed) return { kind: 'frames', frames: [] };
    let input = chunk;
    const frames: Buffer[] = [];
    for (;;) {
      switch (this.state.kind) {
        case 'size': {
          if (input.length > 0) {
            this.pending.push(input);
            this.pendingBytes += input.length;
            input = Buffer.alloc(0);
          }
          if (this.pendingBytes < sizeHeaderBytes) return { kind: 'frames', frames };
          const size = this.consume(sizeHeaderBytes).readInt32BE(0);
          if (size < 0) return this.fail(`negative frame size ${size}`, frames);
          const limit = this.currentLimit() ?? { bytes: this.frameMaxBytes, key: 'socket.request.max.bytes' };
          if (size > limit.bytes) {
            return this.fail(`frame of ${size} bytes exceeds ${limit.key} ${limit.bytes}`, frames);
          }
          this.state = { kind: 'reserve', frameBytes: size };
          break;
        }
        case 'reserve': {
          if (input.length > 0) {
            this.pending.push(input);
            this.pendingBytes += input.length;
            input = Buffer.alloc(0);
          }
          const frameBytes = this.state.frameBytes;
          if (!this.memory.tryReserve(frameBytes)) {
            return { kind: 'frames', frames, waitingForMemoryBytes: frameBytes };
          }
          const head = this.pending[0];
          if (head !== undefined && head.length >= frameBytes) {
            // The whole frame came in one chunk: a view of it, no copy.
            frames.push(this.consume(frameBytes));
            this.state = { kind: 'size' };
            break;
          }
          const body = frameBytes === 0 ? Buffer.alloc(0) : Buffer.allocUnsafe(frameBytes);
          const filledBytes = this.drainPendingInto(body);
          this.state = { kind: 'body', body, filledBytes };
          break;
        }
        case 'body': {
          const state = this.state;
          if (input.length > 0) {
            const taken = Math.min(input.length, state.body.length - state.filledBytes);
            input.copy(state.body, state.filledBytes, 0, taken);
            state.filledBytes += taken;
            input = input.subarray(taken);
          }
          if (state.filledBytes < state.body.length) return { kind: 'frames', frames };
          frames.push(state.body);
          this.state = { kind: 'size' };
          break;
        }
      }
    }
  }

  /** Drops everything buffered and releases a partial frame's reservation (connection closed). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.dropBuffered();
  }

  private fail(reason: string, frames: Buffer[]): FrameDecodeResult {
    this.failed = true;
    this.dropBuffered();
    return { kind: 'error', reason, frames };
  }

  private dropBuffered(): void {
    const reserved = this.partialFrameReservedBytes;
    this.state = { kind: 'size' };
    this.pending = [];
    this.pendingBytes = 0;
    if (reserved > 0) this.memory.release(reserved);
  }

  /** Moves pending input into the start of `body`; returns how many bytes it moved. */
  private drainPendingInto(body: Buffer): number {
    let filled = 0;
    while (filled < body.length && this.pending.length > 0) {
      const head = this.pending[0]!;
      const take = Math.min(head.length, body.length - filled);
      head.copy(body, filled, 0, take);
      filled += take;
      if (take === head.length) this.pending.shift();
      else this.pending[0] = head.subarray(take);
    }
    this.pendingBytes -= filled;
    return filled;
  }

  /** Removes and returns the next `byteCount` bytes, copying only when they span chunks. */
  private consume(byteCount: number): Buffer {
    invariant(byteCount <= this.pendingBytes, `consume ${byteCount} of ${this.pendingBytes} pending bytes`);
    if (byteCount === 0) return Buffer.alloc(0);
    const first = this.pending[0]!;
    let result: Buffer;
    if (first.length >= byteCount) {
      result = first.subarray(0, byteCount);
      if (first.length === byteCount) this.pending.shift();
      else this.pending[0] = first.subarray(byteCount);
    } else {
      result = Buffer.allocUnsafe(byteCount);
      let filled = 0;
      while (filled < byteCount) {
        const head = this.pending[0]!;
        const take = Math.min(head.length, byteCount - filled);
        head.copy(result, filled, 0, take);
        filled += take;
        if (take === head.length) this.pending.shift();
        else this.pending[0] = head.subarray(take);
      }
    }
    this.pendingBytes -= byteCount;
    return result;
  }
}

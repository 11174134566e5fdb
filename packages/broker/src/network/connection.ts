// One client connection: frames in, responses out strictly in request order, even though
// requests are handled concurrently (a long-polling Fetch must not block the Produce behind it
// from being processed, but its response must still go out first, as Kafka clients expect), except
// for a client under a quota (below).
//
// Reading stops (Kafka mutes the channel) while too many requests are unanswered, while the requests
// read and not yet handled hold too many bytes, while the responses written and not yet taken by the
// kernel hold too many (a client that reads slowly), and while the next frame does not fit the
// request memory pool; it resumes once none holds. So one connection pins a bounded amount of
// memory, whatever its client sends or fails to read. Each frame's
// reservation goes back to the pool when its handler settles (or, for a frame never handed to its
// handler, when the connection closes), even if the connection closed meanwhile; a partial frame's
// goes back when the connection closes.
//
// Client quotas (KIP-13, KIP-124, KIP-219). Kafka handles one request of a connection at a time: its
// Processor mutes the channel once a request is received and unmutes it only once the response is
// sent, and a throttled response (ClientQuotaManager.throttle → startThrottling) keeps it muted for
// the throttle time as well (ChannelMuteState MUTED_AND_THROTTLED; the ThrottledChannelReaper's
// endThrottling unmutes it). So nothing the client pipelined behind an over-quota request is
// processed before the throttle ends. Gregor reads and handles up to
// `inFlightRequestsPerConnectionMax` requests of a connection at once, so it does this:
//   - A throttle (a response over its client's quota) starts when that request's handler settles
//     and lasts its throttle time. Meanwhile nothing is read, and requests already read but not yet
//     handed to their handler stay queued until it ends (the longest, if several overlap); requests
//     whose handlers are already running finish normally, and responses go out in order as ever.
//   - A connection whose requests come back marked `underQuota` (the client has a client quota)
//     hands them to their handler one at a time, as Kafka does every connection: the next starts
//     when the one before it has settled. Otherwise the requests a pipelining client had read
//     with the over-quota one would all be running already when its throttle starts, and would all
//     be served (librdkafka, pipelining one-record Produce requests by the hundred, was not slowed
//     at all by request_percentage=5 before this). The mode follows the last settled request: it
//     begins once the first request of a client with a quota settles (those read before that run
//     at once) and ends when the client's quotas are deleted. It also keeps the request_percentage
//     meters of one connection from overlapping (quotas/request-time-meters.ts): each request's
//     continuations are counted to it, from taking its frame to its encoded response.
//   - The connection's own work for a client with a request_percentage quota is counted as well,
//     as Kafka counts a request's network thread time: the outcome of such a request carries a
//     NetworkTimeRecorder (the request clock, and where the time goes), and while the last settled
//     request had one the connection times its data handler (decoding the chunk into frames, up to
//     handing them to the router, which times each request from there) and each flush (writing the
//     responses, cork to uncork: the write syscalls, and TLS encryption on a TLS socket). That time
//     accumulates, like Kafka's KafkaChannel networkThreadTimeNanos, and is handed to the request
//     answered next (RequestChannel's recordNetworkThreadTimeCallback when the response is sent):
//     recorded without throttling that response, so the client's next request pays. Answering a
//     request without a recorder drops it. Without a recorder the clock is never read: a broker or
//     client without request_percentage pays nothing. Not counted: the first frames of a connection
//     (read before any answer says the client has the quota), libuv's read and write callbacks and
//     the stream machinery that delivers a chunk to the 'data' handler (TLS decryption included),
//     and a write the kernel could not take at once, finished later by libuv.
//   - For versions older than KIP-219 the response also waits out the throttle, as Kafka delays
//     it; the mute and the wait are the same span, never added up.
// A client that honours throttle_time_ms itself (KIP-219) sends nothing meanwhile anyway; one that
// does not cannot get more served for sending it.

import type { Socket } from 'node:net';
import { type Clock, systemTimers, type TimerHandle, type TimerScheduler } from '@gregor/ground';
import type { ConnectionSession } from '../security/connection-session.js';
import { FrameDecoder } from './frame-decoder.js';
import type { RequestMemoryPool } from './request-memory-pool.js';

/** Requests read but not yet answered on one connection before we stop reading from it. */
export const inFlightRequestsPerConnectionMax = 500;

/**
 * Bytes of the requests one connection has read and whose handlers have not settled, before it
 * stops reading; it reads again below half of it. A client that never waits for answers (acks=0
 * Produce) otherwise has up to `inFlightRequestsPerConnectionMax` requests being handled at once:
 * 500 of 16 KiB took a broker's ArrayBuffers to 70 MB and its resident memory from 110 to 190 MB,
 * which malloc then kept (packages/broker/README.md, "Resident memory"). 4 MiB is four of
 * librdkafka's largest default Produce requests (message.max.bytes 1,000,000) and 256 of the
 * benchmark's 16 KiB ones. A larger frame is still read whole (the request memory pool bounds it),
 * then nothing more until it is handled.
 */
export const requestBytesInFlightPerConnectionMax = 4 * 1024 * 1024;

/**
 * Bytes of responses written to the socket and not yet taken by the kernel (a client that does not
 * read), before the connection stops reading requests; it reads again once they have drained. The
 * responses of requests already read still go out, so this bounds what the queue grows by past the
 * bound to those requests' responses.
 */
export const responseBytesBufferedPerConnectionMax = 4 * 1024 * 1024;

/** A request over its client's quota: stop reading for `timeMs`. */
export interface Throttle {
  readonly timeMs: number;
  /** A version from before KIP-219, whose client does not throttle itself: the response waits too. */
  readonly delayResponse: boolean;
}

/**
 * Where the connection's own time for a request goes (Kafka's RequestChannel
 * `recordNetworkThreadTimeCallback`): on the outcome of a request whose client has a
 * request_percentage quota.
 */
export interface NetworkTimeRecorder {
  /** The clock the connection times its reading and writing on (the router's request clock). */
  readonly clock: Clock;
  /** Counts `timeMs` against the client's request_percentage, without throttling this response. */
  record(timeMs: number): void;
}

export type HandlerOutcome =
  /**
   * `closeAfter`: the connection closes once this response is written (a failed authentication).
   * `closeAfterWhenIdle`: it closes once this response is written if no later request is unanswered.
   * `throttle`: over its client's quota, reading and starting requests stop for a while (Throttle).
   * `underQuota`: the client has a client quota; its requests are handled one at a time.
   * `networkTime`: the client has a request_percentage quota; the connection times its own work.
   */
  | {
      readonly kind: 'respond';
      readonly response: Buffer;
      readonly closeAfter?: string;
      readonly closeAfterWhenIdle?: string;
      readonly throttle?: Throttle;
      readonly underQuota?: boolean;
      readonly networkTime?: NetworkTimeRecorder;
    }
  | {
      readonly kind: 'no-response';
      readonly throttle?: Throttle;
      readonly underQuota?: boolean;
      readonly networkTime?: NetworkTimeRecorder;
    }
  | { readonly kind: 'close'; readonly reason: string };

export interface ConnectionContext {
  readonly connectionId: number;
  readonly remoteAddress: string;
  /**
   * The listener (`listeners` entry) the connection came in on: Metadata and FindCoordinator answer
   * with every broker's endpoint of that name, as Kafka's request context carries its listener.
   */
  readonly listenerName: string;
  /** The listener's security protocol and the client's principal; absent: PLAINTEXT, ANONYMOUS. */
  readonly session?: ConnectionSession;
}

/**
 * Handles one frame. A frame refused at once (it does not decode, say) may be answered with a plain
 * outcome rather than a promise: the connection then reads no further frame (as Kafka parses each
 * request before it reads the next), so requests sent behind a malformed one are never executed
 * unanswered.
 */
export type FrameHandler = (
  frame: Buffer,
  context: ConnectionContext,
) => Promise<HandlerOutcome> | HandlerOutcome;

export interface ConnectionEvents {
  /** The connection is being closed because of bad input (never called for a client's own close). */
  onProtocolError(context: ConnectionContext, reason: string): void;
  /**
   * The connection is being closed after a response, as its handler asked (`closeAfter`,
   * `closeAfterWhenIdle`): not bad input, but the client sees the broker close it, so it is said.
   */
  onClosedAfterResponse(context: ConnectionContext, reason: string): void;
  onClose(context: ConnectionContext): void;
}

export interface ConnectionLimits {
  /** socket.request.max.bytes: a larger frame closes the connection. */
  readonly frameMaxBytes: number;
  /** queued.max.request.bytes, shared by every connection of the broker. */
  readonly requestMemory: RequestMemoryPool;
  /** sasl.server.max.receive.size: the largest frame before SASL authentication completes. */
  readonly unauthenticatedFrameMaxBytes?: number;
  /** For throttles (client quotas); systemTimers unless a test passes its own. */
  readonly timers?: TimerScheduler;
  /** requestBytesInFlightPerConnectionMax unless a test passes its own. */
  readonly requestBytesInFlightMax?: number;
  /** responseBytesBufferedPerConnectionMax unless a test passes its own. */
  readonly responseBytesBufferedMax?: number;
}

interface Slot {
  outcome: HandlerOutcome | undefined;
}

/** A request read but not yet handed to its handler. */
interface Unstarted {
  readonly frame: Buffer;
  readonly slot: Slot;
}

type PauseReason =
  | 'in-flight-requests'
  | 'request-bytes'
  | 'slow-reader'
  | 'request-memory'
  | 'input-refused'
  | 'throttled';

export class Connection {
  private readonly decoder: FrameDecoder;
  private readonly slots: Slot[] = [];
  private closed = false;
  private readonly pauseReasons = new Set<PauseReason>();
  private readonly requestMemory: RequestMemoryPool;
  private cancelMemoryWait: (() => void) | undefined;
  /** The client sent bad framing: nothing more is read, the close waits behind what came before. */
  private inputRefused = false;
  private readonly timers: TimerScheduler;
  /** Throttles in progress; reading and starting requests resume when the last one ends. */
  private readonly throttles = new Set<TimerHandle>();
  /** Read, in order, not yet handed to the handler (each also has its slot in `slots`). */
  private readonly unstarted: Unstarted[] = [];
  /** Requests whose handler has been called and has not settled. */
  private handling = 0;
  /** The last settled request's client has a quota: start the next only when none is handling. */
  private oneAtATime = false;
  /**
   * The last settled request's client has a request_percentage quota: the connection times its
   * reading and writing on this recorder's clock. Never read otherwise.
   */
  private networkTime: NetworkTimeRecorder | undefined;
  /**
   * The connection's own time since it last answered a request (Kafka's KafkaChannel
   * networkThreadTimeNanos), handed to the next request it answers.
   */
  private networkTimeMs = 0;
  /** Bytes of the frames read whose handlers have not settled (each also reserved in the pool). */
  private requestBytesInFlight = 0;
  private readonly requestBytesInFlightMax: number;
  private readonly responseBytesBufferedMax: number;

  constructor(
    private readonly socket: Socket,
    readonly context: ConnectionContext,
    private readonly handler: FrameHandler,
    private readonly events: ConnectionEvents,
    limits: ConnectionLimits,
  ) {
    this.requestMemory = limits.requestMemory;
    this.timers = limits.timers ?? systemTimers;
    this.requestBytesInFlightMax = limits.requestBytesInFlightMax ?? requestBytesInFlightPerConnectionMax;
    this.responseBytesBufferedMax = limits.responseBytesBufferedMax ?? responseBytesBufferedPerConnectionMax;
    const unauthenticatedMax = limits.unauthenticatedFrameMaxBytes;
    this.decoder = new FrameDecoder(limits.frameMaxBytes, limits.requestMemory, () =>
      unauthenticatedMax !== undefined &&
      context.session?.needsSasl === true &&
      context.session.principal === undefined
        ? { bytes: unauthenticatedMax, key: 'sasl.server.max.receive.size' }
        : undefined,
    );
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => this.close());
    socket.on('close', () => this.close());
  }

  private onData(chunk: Buffer): void {
    if (this.closed || this.inputRefused) return;
    // Timed up to handing the frames to the router, which times each request from there itself.
    const clock = this.networkTime?.clock;
    const readStartMs = clock === undefined ? 0 : clock.nowMs();
    const result = this.decoder.push(chunk);
    for (const frame of result.frames) {
      const slot: Slot = { outcome: undefined };
      this.slots.push(slot);
      this.unstarted.push({ frame, slot });
      this.requestBytesInFlight += frame.length;
    }
    if (clock !== undefined) this.networkTimeMs += clock.nowMs() - readStartMs;
    if (this.slots.length >= inFlightRequestsPerConnectionMax) this.pauseFor('in-flight-requests');
    if (this.requestBytesInFlight >= this.requestBytesInFlightMax) this.pauseFor('request-bytes');
    this.startRequests();
    if (this.inputRefused) return;
    if (result.kind === 'error') {
      this.refuseAfterPending(result.reason);
      return;
    }
    if (result.waitingForMemoryBytes !== undefined && this.cancelMemoryWait === undefined) {
      this.pauseFor('request-memory');
      this.cancelMemoryWait = this.requestMemory.waitFor(result.waitingForMemoryBytes, () => {
        this.cancelMemoryWait = undefined;
        // Bytes read before reading stopped are still in the decoder: they go first. If another
        // connection took the memory meanwhile, this waits again and reading stays stopped.
        this.onData(Buffer.alloc(0));
        if (this.cancelMemoryWait === undefined) this.resumeFrom('request-memory');
      });
    }
  }

  /**
   * Bad framing (a size prefix out of range): the frames read before it are requests like any other
   * and are answered first; the connection closes in their place in the queue.
   */
  private refuseAfterPending(reason: string): void {
    this.inputRefused = true;
    this.pauseFor('input-refused');
    this.slots.push({ outcome: { kind: 'close', reason } });
    this.flush();
  }

  /**
   * Hands the queued requests to the handler, in order, while the connection is not throttled (and,
   * one at a time, while its client is under a quota). One refused at once stops reading, and the
   * requests read behind it are dropped unhandled, their memory given back.
   */
  private startRequests(): void {
    while (this.unstarted.length > 0 && !this.closed) {
      if (this.throttles.size > 0 || (this.oneAtATime && this.handling > 0)) return;
      const { frame, slot } = this.unstarted.shift()!;
      if (this.start(frame, slot) === 'refused') {
        for (const dropped of this.unstarted.splice(0)) this.releaseFrame(dropped.frame);
        this.inputRefused = true;
        this.pauseFor('input-refused');
        return;
      }
    }
  }

  /** Hands `frame` to the handler; 'refused' when the handler refused it at once (read no more). */
  private start(frame: Buffer, slot: Slot): 'started' | 'refused' {
    let handled: Promise<HandlerOutcome> | HandlerOutcome;
    try {
      handled = this.handler(frame, this.context);
    } catch (error) {
      handled = { kind: 'close', reason: `request handler failed: ${String(error)}` };
    }
    if (!(handled instanceof Promise)) {
      slot.outcome = handled;
      this.releaseFrame(frame);
      this.flush();
      return handled.kind === 'close' ? 'refused' : 'started';
    }
    this.handling++;
    handled
      .then(
        (outcome) => {
          if (outcome.kind === 'close') {
            slot.outcome = outcome;
            return;
          }
          this.oneAtATime = outcome.underQuota === true || outcome.throttle !== undefined;
          this.networkTime = outcome.networkTime;
          const throttle = outcome.throttle;
          if (throttle === undefined || throttle.timeMs <= 0) {
            slot.outcome = outcome;
            return;
          }
          this.throttle(throttle.timeMs, () => {
            if (throttle.delayResponse) {
              slot.outcome = outcome;
              this.flush();
            }
          });
          if (!throttle.delayResponse) slot.outcome = outcome;
        },
        (error: unknown) => {
          // A handler that throws has a bug; the connection cannot answer in order any more.
          slot.outcome = { kind: 'close', reason: `request handler failed: ${String(error)}` };
        },
      )
      .finally(() => {
        this.handling--;
        this.releaseFrame(frame);
        this.flush();
        this.startRequests();
      });
    return 'started';
  }

  /** A frame's request is done with (or dropped): its bytes go back to the pool and to this connection. */
  private releaseFrame(frame: Buffer): void {
    this.requestMemory.release(frame.length);
    this.requestBytesInFlight -= frame.length;
    if (this.requestBytesInFlight < this.requestBytesInFlightMax / 2) this.resumeFrom('request-bytes');
  }

  /**
   * The client has not taken the responses written so far: read no more requests until the socket
   * has drained ('drain' follows, since a write above the socket's high-water mark returned false).
   */
  private pauseUntilDrained(): void {
    if (this.pauseReasons.has('slow-reader')) return;
    this.pauseFor('slow-reader');
    this.socket.once('drain', () => this.resumeFrom('slow-reader'));
  }

  /**
   * Stops reading and starting requests for `timeMs` (longer if another throttle ends later), then
   * calls `ended`.
   */
  private throttle(timeMs: number, ended: () => void): void {
    if (this.closed) return;
    this.pauseFor('throttled');
    const handle = this.timers.schedule(() => {
      this.throttles.delete(handle);
      if (this.throttles.size === 0) this.resumeFrom('throttled');
      ended();
      this.startRequests();
    }, timeMs);
    this.throttles.add(handle);
  }

  private pauseFor(reason: PauseReason): void {
    if (this.pauseReasons.size === 0) this.socket.pause();
    this.pauseReasons.add(reason);
  }

  private resumeFrom(reason: PauseReason): void {
    if (!this.pauseReasons.delete(reason) || this.pauseReasons.size > 0 || this.closed) return;
    this.socket.resume();
  }

  /**
   * Writes every response at the head of the queue that is ready, in request order. The time it
   * takes goes, with the time spent reading since the last answer, to the last request it answers
   * (`answered`).
   */
  private flush(): void {
    if (this.closed) return;
    const clock = this.slots[0]?.outcome === undefined ? undefined : this.networkTime?.clock;
    const writeStartMs = clock === undefined ? 0 : clock.nowMs();
    let wrote = false;
    let answeredAny = false;
    let answeredRecorder: NetworkTimeRecorder | undefined;
    while (this.slots.length > 0 && this.slots[0]!.outcome !== undefined) {
      const outcome = this.slots.shift()!.outcome!;
      if (outcome.kind === 'close') {
        if (wrote) this.socket.uncork();
        this.refuse(outcome.reason);
        return;
      }
      answeredAny = true;
      answeredRecorder = outcome.networkTime;
      if (outcome.kind === 'respond') {
        if (!wrote) this.socket.cork();
        wrote = true;
        const size = Buffer.allocUnsafe(4);
        size.writeInt32BE(outcome.response.length, 0);
        this.socket.write(size);
        this.socket.write(outcome.response);
        const closeReason =
          outcome.closeAfter ??
          (outcome.closeAfterWhenIdle !== undefined && this.slots.length === 0 && !this.decoder.receivingFrame
            ? outcome.closeAfterWhenIdle
            : undefined);
        if (closeReason !== undefined) {
          // Not bad input: the handler has said why (a failed authentication; a Metadata answer
          // given without the leader lease).
          this.events.onClosedAfterResponse(this.context, closeReason);
          this.socket.uncork();
          this.markClosed();
          this.socket.end();
          this.socket.destroySoon();
          return;
        }
      }
    }
    if (wrote) {
      this.socket.uncork();
      if (this.socket.writableLength >= this.responseBytesBufferedMax) this.pauseUntilDrained();
    }
    if (clock !== undefined) this.networkTimeMs += clock.nowMs() - writeStartMs;
    if (answeredAny) this.answered(answeredRecorder);
    if (this.slots.length < inFlightRequestsPerConnectionMax / 2) this.resumeFrom('in-flight-requests');
  }

  /**
   * A request was answered (its response written, or none due): the connection's time since the
   * last answer goes to it, if its client has a request_percentage quota, and is dropped otherwise,
   * as Kafka's Processor hands the channel's network thread time to each completed response.
   */
  private answered(recorder: NetworkTimeRecorder | undefined): void {
    const timeMs = this.networkTimeMs;
    this.networkTimeMs = 0;
    if (recorder !== undefined && timeMs > 0) recorder.record(timeMs);
  }

  /** Closes after bad input; responses already written still go out first. */
  private refuse(reason: string): void {
    if (this.closed) return;
    this.events.onProtocolError(this.context, reason);
    this.markClosed();
    this.socket.end();
    this.socket.destroySoon();
  }

  /** Closes at once (broker shutdown, socket error). */
  close(): void {
    if (this.closed) return;
    this.markClosed();
    if (!this.socket.destroyed) this.socket.destroy();
  }

  private markClosed(): void {
    this.closed = true;
    this.slots.length = 0;
    for (const unstarted of this.unstarted.splice(0)) this.releaseFrame(unstarted.frame);
    this.cancelMemoryWait?.();
    this.cancelMemoryWait = undefined;
    for (const handle of this.throttles) handle.cancel();
    this.throttles.clear();
    this.decoder.close();
    this.events.onClose(this.context);
  }
}

// The broker's client quotas: one ClientQuotaManager for Produce (producer_byte_rate, over the
// request's bytes), one for consumer Fetch (consumer_byte_rate, over the response's bytes) and one for
// every request (request_percentage, over the time it takes), all reading the quotas of the current
// metadata image, and how a throttle reaches the connection.
//
// Request time (KIP-124): Kafka records the time a request spends on its request handler and network
// threads, not the time it waits in the purgatory or a queue. Gregor is one event loop, so what a
// request costs it is the loop time of its own work: its synchronous part (from the moment the
// router takes the frame: decoding, the checks, the handler up to its first await) and every promise
// continuation of its own after that (the log append and index update after the handler's await,
// building, encoding and throttling the response), measured by a RequestTimeMeter
// (request-time-meters.ts), which follows the request's promises with v8's promise hooks. Time the
// request spends waiting (a long poll or acks=all in the purgatory, disk I/O off the loop, a
// controller round trip) runs none of its continuations and is not counted. The connection's
// reading of frames and writing of responses (Kafka's network thread time) is timed by the
// connection and recorded without throttling (recordNetworkTime; network/connection.ts), as Kafka
// records it when the response is sent: the next request pays. Not counted: work a request queues
// behind another's on a shared queue (a partition's append queue), which runs as that other
// request's continuation. Only requests of a client with a request_percentage quota
// are metered, and the hooks are on only while one is in flight: they cost every promise of the
// loop meanwhile, and counting everything with async_hooks all the time nearly doubled the loop
// time per request (64 → 117 µs, 2026-12-06). Before the meters only the synchronous part and the
// response's encoding were counted, which let Gregor's client (several records a request) send
// 628-974 requests/s under request_percentage=5 where the meters hold it at 431-882 (broker README,
// "Client quotas"). libuv, the stream machinery around the socket's reads and GC are still not
// counted. The times come from
// an injected clock with sub-millisecond resolution (performance.now in the node). They are recorded
// as percent-seconds of one thread, so the rate is a percentage of one event loop over
// quota.window.num × quota.window.size.seconds, compared with request_percentage.
// Not counted against request_percentage, as in Kafka: ApiVersions, SaslHandshake and
// SaslAuthenticate (a client must always be able to connect and authenticate), and replica Fetches
// (the brokers' own replication is gRPC here and never reaches this path).
//
// KIP-219: from Produce v6 and Fetch v8 the client waits out throttle_time_ms itself, so the
// response goes at once and the broker only stops reading from the connection for that time; older
// clients do not, so their response also waits (network/connection.ts). A throttled Fetch is
// answered without records and its bytes are not counted, as Kafka does: the client gets the data
// after the throttle instead of being charged for data it never received.

import type { Clock } from '@gregor/ground';
import type { ClientQuotaState } from '@gregor/metadata';
import { ApiKey } from '@gregor/protocol';
import type { ClientQuotaType } from '../metrics/broker-metrics.js';
import type { ConnectionContext, Throttle } from '../network/connection.js';
import { anonymousPrincipal } from '../security/kafka-principal.js';
import { ClientQuotaManager, type QuotaClient, type QuotaWindows } from './client-quota-manager.js';
import {
  type ContinuationHooks,
  promiseContinuationHooks,
  RequestTimeMeters,
} from './request-time-meters.js';

/** The first versions whose clients honour throttle_time_ms themselves (KIP-219). */
export const produceClientThrottlingVersionMin = 6;
export const fetchClientThrottlingVersionMin = 8;

/**
 * The first version of each API whose client waits out throttle_time_ms itself (KIP-219, Kafka's
 * `AbstractResponse.shouldClientThrottle`); an older version's response is held back for the
 * throttle. APIs added after KIP-219 (Kafka 2.0) throttle themselves from version 0.
 */
export const clientThrottlingVersionMin: ReadonlyMap<number, number> = new Map([
  [ApiKey.Produce, produceClientThrottlingVersionMin],
  [ApiKey.Fetch, fetchClientThrottlingVersionMin],
  [ApiKey.ListOffsets, 3],
  [ApiKey.Metadata, 6],
  [ApiKey.OffsetCommit, 4],
  [ApiKey.OffsetFetch, 4],
  [ApiKey.FindCoordinator, 2],
  [ApiKey.JoinGroup, 3],
  [ApiKey.Heartbeat, 2],
  [ApiKey.LeaveGroup, 2],
  [ApiKey.SyncGroup, 2],
  [ApiKey.DescribeGroups, 2],
  [ApiKey.ListGroups, 2],
  [ApiKey.ApiVersions, 2],
  [ApiKey.CreateTopics, 3],
  [ApiKey.DeleteTopics, 2],
  [ApiKey.DeleteRecords, 1],
  [ApiKey.InitProducerId, 1],
  [ApiKey.OffsetForLeaderEpoch, 2],
  [ApiKey.AddPartitionsToTxn, 1],
  [ApiKey.AddOffsetsToTxn, 1],
  [ApiKey.EndTxn, 1],
  [ApiKey.TxnOffsetCommit, 1],
  [ApiKey.DescribeAcls, 1],
  [ApiKey.CreateAcls, 1],
  [ApiKey.DeleteAcls, 1],
  [ApiKey.DescribeConfigs, 2],
  [ApiKey.AlterConfigs, 1],
  [ApiKey.AlterReplicaLogDirs, 1],
  [ApiKey.DescribeLogDirs, 1],
  [ApiKey.SaslAuthenticate, 1],
  [ApiKey.CreatePartitions, 1],
  [ApiKey.DeleteGroups, 1],
]);

/** The APIs whose time is not counted against request_percentage (see above). */
export const requestQuotaExemptApiKeys: ReadonlySet<number> = new Set([
  ApiKey.ApiVersions,
  ApiKey.SaslHandshake,
  ApiKey.SaslAuthenticate,
]);

/** Kafka's ClientRequestQuotaManager records nanoseconds × this: percent-seconds of one thread. */
const percentSecondsPerMs = 100 / 1000;

/** One throttle as metrics see it: `whose` is the matched quota entity's user and client id. */
export interface ThrottleObserver {
  clientThrottled(quota: ClientQuotaType, whose: QuotaClient, throttleTimeMs: number): void;
}

/** The longer of two throttles, the response held back if either holds it (Kafka takes the max). */
export function longerThrottle(a: Throttle | undefined, b: Throttle | undefined): Throttle | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return { timeMs: Math.max(a.timeMs, b.timeMs), delayResponse: a.delayResponse || b.delayResponse };
}

/** Who a request is from, for quotas: the principal's name and the header's client id. */
export function quotaClientOf(connection: ConnectionContext, clientId: string | null): QuotaClient {
  return { user: (connection.session?.principal ?? anonymousPrincipal).name, clientId: clientId ?? '' };
}

export class ClientQuotas {
  readonly produce: ClientQuotaManager;
  readonly fetch: ClientQuotaManager;
  readonly request: ClientQuotaManager;
  /** The loop time of requests under a request_percentage quota (request-time-meters.ts). */
  readonly requestTime: RequestTimeMeters;

  /**
   * `clock` places records in the quota windows; `requestClock` times requests for
   * request_percentage (sub-millisecond; `clock` when not given), following their continuations
   * through `continuationHooks` (v8's promise hooks unless a test passes its own).
   */
  constructor(
    windows: QuotaWindows,
    private readonly quotas: () => ReadonlyMap<string, ClientQuotaState>,
    private readonly clock: Clock,
    private readonly observer?: ThrottleObserver,
    readonly requestClock: Clock = clock,
    continuationHooks: ContinuationHooks = promiseContinuationHooks,
  ) {
    this.produce = new ClientQuotaManager('producer_byte_rate', windows, quotas);
    this.fetch = new ClientQuotaManager('consumer_byte_rate', windows, quotas);
    this.request = new ClientQuotaManager('request_percentage', windows, quotas, windows.windowMs);
    this.requestTime = new RequestTimeMeters(requestClock, continuationHooks);
  }

  /**
   * Whether the request's time is counted: its client has a request_percentage quota and the API is
   * not exempt. Only then is it metered (the hooks that follow its continuations cost every promise).
   */
  requestTimeCounted(who: QuotaClient, apiKey: number): boolean {
    return !requestQuotaExemptApiKeys.has(apiKey) && this.request.appliesTo(who);
  }

  /** Whether any client quota is set at all: without one the request path skips the accounting. */
  get anyQuotaSet(): boolean {
    return this.quotas().size > 0;
  }

  /** Whether any of the three quotas applies to the client (its connection is then handled serially). */
  underQuota(who: QuotaClient): boolean {
    return this.produce.appliesTo(who) || this.fetch.appliesTo(who) || this.request.appliesTo(who);
  }

  /**
   * Counts `requestTimeMs` of loop time against the client's request_percentage (nothing for an
   * exempt API); the throttle for its connection, if over quota.
   */
  throttleRequest(
    who: QuotaClient,
    requestTimeMs: number,
    apiKey: number,
    apiVersion: number,
  ): Throttle | undefined {
    if (requestQuotaExemptApiKeys.has(apiKey)) return undefined;
    const throttle = this.request.record(who, requestTimeMs * percentSecondsPerMs, this.clock.nowMs());
    if (throttle === null || throttle.timeMs <= 0) return undefined;
    this.observer?.clientThrottled('Request', throttle, throttle.timeMs);
    return {
      timeMs: throttle.timeMs,
      delayResponse: apiVersion < (clientThrottlingVersionMin.get(apiKey) ?? 0),
    };
  }

  /**
   * Counts `timeMs` of the connection's own work for a request of the client (reading its frame,
   * writing its response) against its request_percentage without throttling that response: Kafka's
   * recordNetworkThreadTimeCallback, ClientRequestQuotaManager.recordNoThrottle. The client's next
   * request pays for it.
   */
  recordNetworkTime(who: QuotaClient, timeMs: number): void {
    if (timeMs <= 0) return;
    this.request.recordNoThrottle(who, timeMs * percentSecondsPerMs, this.clock.nowMs());
  }

  /** Counts a Produce request of `requestBytes`; the throttle for its connection, if over quota. */
  throttleProduce(who: QuotaClient, requestBytes: number, apiVersion: number): Throttle | undefined {
    const throttle = this.produce.record(who, requestBytes, this.clock.nowMs());
    if (throttle === null || throttle.timeMs <= 0) return undefined;
    this.observer?.clientThrottled('Produce', throttle, throttle.timeMs);
    return { timeMs: throttle.timeMs, delayResponse: apiVersion < produceClientThrottlingVersionMin };
  }

  /**
   * Counts a consumer Fetch response of `responseBytes`. Over quota: the bytes are taken back (the
   * caller answers without records) and the throttle is returned.
   */
  throttleFetch(who: QuotaClient, responseBytes: number, apiVersion: number): Throttle | undefined {
    const nowMs = this.clock.nowMs();
    const throttle = this.fetch.record(who, responseBytes, nowMs);
    if (throttle === null || throttle.timeMs <= 0) return undefined;
    this.fetch.unrecord(who, responseBytes, nowMs);
    this.observer?.clientThrottled('Fetch', throttle, throttle.timeMs);
    return { timeMs: throttle.timeMs, delayResponse: apiVersion < fetchClientThrottlingVersionMin };
  }
}

// The broker's client quotas: one ClientQuotaManager for Produce (producer_byte_rate, over the
// request's bytes), one for consumer Fetch (consumer_byte_rate, over the response's bytes) and one for
// every request (request_percentage, over the time it takes), all reading the quotas of the current
// metadata image, and how a throttle reaches the connection.
//
// Request time (KIP-124): Kafka records the time a request spends on its request handler and network
// threads. Gregor is one event loop, so what a request costs it is the loop time its own synchronous
// work takes: from the moment the router takes the frame to the handler's first wait (decoding, the
// checks, the handler's synchronous part), plus from the moment the handler's answer comes back to
// the response being encoded and queued on the connection (quotas, encoding). Time the request spends
// waiting (a long poll or acks=all in the purgatory, disk I/O, a controller round trip) is not the
// loop's and is not counted; neither are the continuations between the handler's awaits, nor the
// connection's reading and writing (Kafka's network thread time). So this undercounts: for one-record
// Produce requests over a socket (in-process, 2026-12-06) it counted about 60% of the loop time the
// broker spent on them when they were handled one at a time (as a client under a quota now is,
// network/connection.ts) and about 20% when 100 pipelined ones were handled at once. Attributing
// every continuation to its request (async_hooks before/after with an AsyncLocalStorage) would
// count it all, but nearly doubled the loop time per request in the same measurement. The times
// come from an injected clock with sub-millisecond resolution (performance.now in the node). They
// are recorded as percent-seconds of one thread, so the rate is a percentage of one event loop over
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

  /**
   * `clock` places records in the quota windows; `requestClock` times requests for
   * request_percentage (sub-millisecond; `clock` when not given).
   */
  constructor(
    windows: QuotaWindows,
    private readonly quotas: () => ReadonlyMap<string, ClientQuotaState>,
    private readonly clock: Clock,
    private readonly observer?: ThrottleObserver,
    readonly requestClock: Clock = clock,
  ) {
    this.produce = new ClientQuotaManager('producer_byte_rate', windows, quotas);
    this.fetch = new ClientQuotaManager('consumer_byte_rate', windows, quotas);
    this.request = new ClientQuotaManager('request_percentage', windows, quotas, windows.windowMs);
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

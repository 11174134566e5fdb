// Incremental fetch sessions (KIP-227), as Kafka's FetchSession.scala keeps them: a consumer that
// fetches many partitions sends them all once (a full fetch, epoch 0), gets a session id, and from
// then on sends only what changed (added or altered partitions, forgotten ones listed) with the next
// epoch; the broker answers only the partitions with something new. This module decides; it reads
// no clock (the caller passes `nowMs`) and draws session ids from an injected Random.
//
// Eviction follows Kafka for sessions that are not privileged (followers replicate over gRPC here,
// so every session is a consumer's): when the cache is full, a new session takes the place of the
// least recently used one if that one has been idle longer than the eviction time, or else of the
// smallest session created longer ago than the eviction time, if the new one has more partitions.
//
// From Fetch v13 a session names its topics by id (KIP-516): its partitions are keyed by topic id,
// so a topic deleted and created again under its name is another topic to it. A session created by
// ids is used by ids only, and one created by names by names only (FETCH_SESSION_TOPIC_ID_ERROR
// otherwise, as Kafka's FetchManager answers).

import { invariant, type Random } from '@gregor/ground';
import { ErrorCode } from '@gregor/protocol';

/** The session id meaning "no session". */
export const invalidSessionId = 0;
/** The epoch of a full fetch that asks for (or re-creates) a session. */
export const initialSessionEpoch = 0;
/** The epoch of a full fetch that wants no session (and closes the one it names). */
export const finalSessionEpoch = -1;
/**
 * Kafka's MIN_INCREMENTAL_FETCH_SESSION_EVICTION_MS: not a broker config in Kafka (a constant of
 * its server), so not one here either.
 */
export const minIncrementalFetchSessionEvictionMs = 120_000;
/** max.incremental.fetch.session.cache.slots' default. */
export const fetchSessionCacheSlotsDefault = 1000;
/**
 * Partitions all sessions together may cache. Kafka has no such bound; without one a client could
 * add partitions (of topics that need not exist) to its session one incremental fetch at a time and
 * pin memory without end. A cached partition is a few hundred bytes, so this is tens of MiB.
 */
export const fetchSessionCachedPartitionsMax = 200_000;

/** What a fetch request says about one partition. */
export interface SessionPartitionRequest {
  /** The topic's name; for a request by id, the name the id resolved to when read, or '' if unknown. */
  readonly topic: string;
  /** The topic id (32 hex digits) of a request by id (v13+); the zero uuid in a request by name. */
  readonly topicId: string;
  readonly partition: number;
  readonly fetchOffset: number;
  readonly currentLeaderEpoch: number;
  readonly partitionMaxBytes: number;
}

/** What a read of one partition answered, as far as the incremental rule needs it. */
export interface SessionPartitionResult {
  readonly errorCode: number;
  readonly highWatermark: number;
  readonly lastStableOffset: number;
  readonly logStartOffset: number;
  readonly recordsBytes: number;
}

/** One partition of a session: the last request parameters, and what the client was last told. */
export interface CachedPartition {
  readonly topic: string;
  readonly topicId: string;
  readonly partition: number;
  fetchOffset: number;
  currentLeaderEpoch: number;
  partitionMaxBytes: number;
  /** -1 until answered, and after an error, so that the partition is answered again once it clears. */
  highWatermark: number;
  lastStableOffset: number;
  logStartOffset: number;
}

export interface FetchSession {
  readonly id: number;
  /** The epoch the next incremental fetch must carry. */
  epoch: number;
  readonly creationMs: number;
  lastUsedMs: number;
  /** Whether the session's partitions are keyed by topic id (created by a v13+ fetch). */
  readonly usesTopicIds: boolean;
  /** In fetch order: partitions answered in an incremental fetch move to the end, as in Kafka. */
  readonly partitions: Map<string, CachedPartition>;
}

/** How one Fetch is served. */
export type FetchSessionContext =
  /** No session: read and answer the request's partitions, session id 0. */
  | { readonly kind: 'sessionless'; readonly partitions: readonly SessionPartitionRequest[] }
  /** Read and answer the request's partitions, then try to create a session of them. */
  | { readonly kind: 'full'; readonly partitions: readonly SessionPartitionRequest[] }
  /** Read every partition of the session; answer those the incremental rule selects. */
  | { readonly kind: 'incremental'; readonly session: FetchSession }
  /** Answer the error alone, with session id 0. */
  | { readonly kind: 'error'; readonly errorCode: number };

export interface FetchSessionRequest {
  readonly sessionId: number;
  readonly sessionEpoch: number;
  /** Whether the request names topics by id (Fetch v13+). */
  readonly usesTopicIds: boolean;
  readonly partitions: readonly SessionPartitionRequest[];
  readonly forgotten: readonly {
    readonly topic: string;
    readonly topicId: string;
    readonly partitions: readonly number[];
  }[];
}

export interface FetchSessionCacheLimits {
  /** max.incremental.fetch.session.cache.slots. */
  readonly slots: number;
  readonly evictionMs: number;
  readonly cachedPartitionsMax: number;
}

/** A partition's key in a session: by topic id in a session by ids, else by name. */
const keyOf = (
  usesTopicIds: boolean,
  { topic, topicId }: { readonly topic: string; readonly topicId: string },
  partition: number,
) => `${partition}:${usesTopicIds ? topicId : topic}`;

/** Kafka's JFetchMetadata.nextEpoch: after the largest int comes 1 (0 means "full fetch"). */
export function nextSessionEpoch(epoch: number): number {
  if (epoch < 0) return finalSessionEpoch;
  return epoch === 0x7fffffff ? 1 : epoch + 1;
}

/**
 * Kafka's CachedPartition.maybeUpdateResponseData: a partition is in an incremental answer when it
 * has records, an error, or a high watermark or log start offset the client was not told yet. The
 * last stable offset is compared too (Kafka does not), so that a read_committed consumer learns of
 * a transaction's end even if the high watermark did not move with it. Updates what the client was
 * told to what this answer tells it.
 */
export function mustAnswer(cached: CachedPartition, result: SessionPartitionResult): boolean {
  let answer = result.recordsBytes > 0;
  if (cached.highWatermark !== result.highWatermark) {
    answer = true;
    cached.highWatermark = result.highWatermark;
  }
  if (cached.logStartOffset !== result.logStartOffset) {
    answer = true;
    cached.logStartOffset = result.logStartOffset;
  }
  if (cached.lastStableOffset !== result.lastStableOffset) {
    answer = true;
    cached.lastStableOffset = result.lastStableOffset;
  }
  if (result.errorCode !== ErrorCode.NONE) {
    answer = true;
    cached.highWatermark = -1;
  }
  return answer;
}

export class FetchSessionCache {
  private readonly sessions = new Map<number, FetchSession>();
  private cachedPartitions = 0;
  private evictions = 0;

  constructor(
    private readonly limits: FetchSessionCacheLimits,
    private readonly random: Random,
  ) {
    invariant(limits.slots >= 0, 'fetch session cache slots must not be negative');
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  get cachedPartitionCount(): number {
    return this.cachedPartitions;
  }

  /** Sessions removed to make room for new ones, since start (Kafka's IncrementalFetchSessionEvictionsPerSec). */
  get evictionCount(): number {
    return this.evictions;
  }

  session(id: number): FetchSession | undefined {
    return this.sessions.get(id);
  }

  /** Kafka's FetchManager.newContext: how to serve this request, and the session changes it makes. */
  newContext(request: FetchSessionRequest, nowMs: number): FetchSessionContext {
    const { sessionId, sessionEpoch } = request;
    if (sessionEpoch === initialSessionEpoch || sessionEpoch === finalSessionEpoch) {
      // A full fetch closes the session it names.
      if (sessionId !== invalidSessionId) this.remove(sessionId);
      return sessionEpoch === finalSessionEpoch
        ? { kind: 'sessionless', partitions: request.partitions }
        : { kind: 'full', partitions: request.partitions };
    }
    const session = this.sessions.get(sessionId);
    if (session === undefined) return { kind: 'error', errorCode: ErrorCode.FETCH_SESSION_ID_NOT_FOUND };
    if (session.epoch !== sessionEpoch) {
      return { kind: 'error', errorCode: ErrorCode.INVALID_FETCH_SESSION_EPOCH };
    }
    if (session.usesTopicIds !== request.usesTopicIds) {
      return { kind: 'error', errorCode: ErrorCode.FETCH_SESSION_TOPIC_ID_ERROR };
    }
    for (const wanted of request.partitions) {
      const key = keyOf(session.usesTopicIds, wanted, wanted.partition);
      const cached = session.partitions.get(key);
      if (cached === undefined) {
        session.partitions.set(key, newCachedPartition(wanted));
        this.cachedPartitions++;
      } else {
        cached.fetchOffset = wanted.fetchOffset;
        cached.currentLeaderEpoch = wanted.currentLeaderEpoch;
        cached.partitionMaxBytes = wanted.partitionMaxBytes;
      }
    }
    for (const forgotten of request.forgotten) {
      for (const partition of forgotten.partitions) {
        if (session.partitions.delete(keyOf(session.usesTopicIds, forgotten, partition))) {
          this.cachedPartitions--;
        }
      }
    }
    // An empty session, or one grown past what the cache may hold, is dropped and the request served
    // without one: the client's next fetch is a full one.
    if (session.partitions.size === 0 || this.cachedPartitions > this.limits.cachedPartitionsMax) {
      this.remove(session.id);
      return { kind: 'sessionless', partitions: request.partitions };
    }
    session.lastUsedMs = nowMs;
    session.epoch = nextSessionEpoch(session.epoch);
    return { kind: 'incremental', session };
  }

  /**
   * Kafka's maybeCreateSession, after a full fetch was read: a session of those partitions, told
   * what this answer told the client, if the cache has room (or can evict); else invalidSessionId.
   */
  createSession(
    partitions: readonly {
      readonly request: SessionPartitionRequest;
      readonly result: SessionPartitionResult;
    }[],
    usesTopicIds: boolean,
    nowMs: number,
  ): number {
    const size = partitions.length;
    if (size === 0 || this.limits.slots === 0) return invalidSessionId;
    if (this.cachedPartitions + size > this.limits.cachedPartitionsMax) return invalidSessionId;
    if (this.sessions.size >= this.limits.slots && !this.tryEvict(size, nowMs)) return invalidSessionId;
    const cached = new Map<string, CachedPartition>();
    for (const { request, result } of partitions) {
      const partition = newCachedPartition(request);
      mustAnswer(partition, result);
      cached.set(keyOf(usesTopicIds, request, request.partition), partition);
    }
    const session: FetchSession = {
      id: this.newSessionId(),
      epoch: nextSessionEpoch(initialSessionEpoch),
      creationMs: nowMs,
      lastUsedMs: nowMs,
      usesTopicIds,
      partitions: cached,
    };
    this.sessions.set(session.id, session);
    this.cachedPartitions += cached.size;
    return session.id;
  }

  /**
   * Kafka's IncrementalFetchContext: of the session's partitions (read in session order), those the
   * client must hear about. Those move to the end of the session, so that under max_bytes the others
   * are read first next time.
   */
  incrementalAnswer<R extends SessionPartitionResult>(
    session: FetchSession,
    results: readonly { readonly cached: CachedPartition; readonly result: R }[],
  ): R[] {
    const answered: R[] = [];
    for (const { cached, result } of results) {
      if (!mustAnswer(cached, result)) continue;
      answered.push(result);
      const key = keyOf(session.usesTopicIds, cached, cached.partition);
      // A partition forgotten by a concurrent request stays forgotten.
      if (session.partitions.delete(key)) session.partitions.set(key, cached);
    }
    return answered;
  }

  private remove(id: number): void {
    const session = this.sessions.get(id);
    if (session === undefined) return;
    this.sessions.delete(id);
    this.cachedPartitions -= session.partitions.size;
  }

  private tryEvict(size: number, nowMs: number): boolean {
    let leastRecentlyUsed: FetchSession | undefined;
    let smallestOld: FetchSession | undefined;
    for (const session of this.sessions.values()) {
      if (leastRecentlyUsed === undefined || lastUsedBefore(session, leastRecentlyUsed)) {
        leastRecentlyUsed = session;
      }
      if (nowMs - session.creationMs > this.limits.evictionMs) {
        if (smallestOld === undefined || evictsBefore(session, smallestOld)) smallestOld = session;
      }
    }
    if (leastRecentlyUsed === undefined) return false;
    if (nowMs - leastRecentlyUsed.lastUsedMs > this.limits.evictionMs) {
      this.remove(leastRecentlyUsed.id);
      this.evictions++;
      return true;
    }
    // Kafka compares (size, id) with the new session's id as 0: only a strictly larger one evicts.
    if (smallestOld !== undefined && size > smallestOld.partitions.size) {
      this.remove(smallestOld.id);
      this.evictions++;
      return true;
    }
    return false;
  }

  private newSessionId(): number {
    for (;;) {
      const id = 1 + this.random.nextInt(0x7fffffff);
      if (!this.sessions.has(id)) return id;
    }
  }
}

function newCachedPartition(request: SessionPartitionRequest): CachedPartition {
  return {
    topic: request.topic,
    topicId: request.topicId,
    partition: request.partition,
    fetchOffset: request.fetchOffset,
    currentLeaderEpoch: request.currentLeaderEpoch,
    partitionMaxBytes: request.partitionMaxBytes,
    highWatermark: -1,
    lastStableOffset: -1,
    logStartOffset: -1,
  };
}

const lastUsedBefore = (a: FetchSession, b: FetchSession) =>
  a.lastUsedMs < b.lastUsedMs || (a.lastUsedMs === b.lastUsedMs && a.id < b.id);
const evictsBefore = (a: FetchSession, b: FetchSession) =>
  a.partitions.size < b.partitions.size || (a.partitions.size === b.partitions.size && a.id < b.id);

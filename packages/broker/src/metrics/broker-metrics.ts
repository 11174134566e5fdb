// What the request path records for metrics, and nothing more: a few additions to plain numbers per
// request or per topic of a request (never per record). Turning them into Prometheus series is the
// exporter's job at scrape time (prometheus-exporter.ts), so this file knows nothing of prom-client
// and the data path pays for no label hashing. With gregor.metrics.port=-1 the node uses
// `noBrokerMetrics`, which records nothing.

import { SampledAvgMax, SampledPercentiles, SampledRate, type SampleWindows } from '@gregor/ground';

/** The recording side, as the router, the API handlers and the node's drivers see it. */
export interface BrokerMetrics {
  /** A monotonic time in milliseconds for timing requests (0 when nothing is recorded). */
  nowMs(): number;
  /**
   * One request answered (or, for acks=0, handled), under Kafka's request name: `Produce`, `Fetch`,
   * `FetchConsumer`, `FetchFollower`, ... `startMs` and `endMs` come from `nowMs()`.
   */
  requestCompleted(request: string, apiVersion: number, startMs: number, endMs: number): void;
  /** Records a leader appended for a Produce: Kafka's MessagesInPerSec and BytesInPerSec. */
  produced(topic: string, messages: number, bytes: number): void;
  /** Record bytes a consumer Fetch returned: Kafka's BytesOutPerSec. */
  fetchedByConsumer(topic: string, bytes: number): void;
  /** The ISR of a partition this broker leads got smaller or larger. */
  isrChanged(change: 'shrink' | 'expand'): void;
  /** A metadata-log entry this node proposed as quorum leader committed after `latencyMs`. */
  metadataCommitted(latencyMs: number, nowMs: number): void;
  /** This node saw a new active controller (Kafka's NewActiveControllersCount). */
  newActiveController(): void;
  /** A client over a quota was throttled (Kafka's Produce/Fetch/Request throttle-time sensors). */
  clientThrottled(quota: ClientQuotaType, who: ThrottledClient, throttleTimeMs: number): void;
  /** The listener started: its socket-server series exist from now on, at zero, as Kafka's sensors. */
  listenerStarted(listener: string): void;
  /** A client connection was accepted on the listener (Kafka's socket-server connection-creation). */
  connectionOpened(listener: string): void;
  /** A connection the listener accepted closed, for whatever reason (connection-close). */
  connectionClosed(listener: string): void;
  /**
   * An authentication on the listener ended: a SASL exchange, a TLS handshake, or a PLAINTEXT
   * connection (which Kafka counts as authenticated at once). `reauthenticationLatencyMs`: for a
   * successful re-authentication (KIP-368), from its SaslHandshake to its success.
   */
  authenticationCompleted(
    listener: string,
    outcome: AuthenticationOutcome,
    reauthentication: boolean,
    reauthenticationLatencyMs?: number,
  ): void;
}

export type AuthenticationOutcome = 'succeeded' | 'failed';

/**
 * One listener's socket-server counters (Kafka's kafka.server:type=socket-server-metrics,
 * listener=L,networkProcessor=N; Gregor's one event loop is network processor 0).
 */
export interface ListenerConnectionCounters {
  /** Open now (connection-count). */
  connections: number;
  connectionsCreated: number;
  readonly connectionCreationRate: SampledRate;
  connectionsClosed: number;
  readonly connectionCloseRate: SampledRate;
  successfulAuthentications: number;
  failedAuthentications: number;
  successfulReauthentications: number;
  failedReauthentications: number;
  readonly reauthenticationLatencyMs: SampledAvgMax;
}

/** Kafka's client quota sensor types (`type=Produce|Fetch|Request`): the byte rates and request_percentage. */
export type ClientQuotaType = 'Produce' | 'Fetch' | 'Request';

export interface ThrottledClient {
  readonly user: string;
  readonly clientId: string;
}

export const noBrokerMetrics: BrokerMetrics = {
  nowMs: () => 0,
  requestCompleted: () => undefined,
  produced: () => undefined,
  fetchedByConsumer: () => undefined,
  isrChanged: () => undefined,
  metadataCommitted: () => undefined,
  newActiveController: () => undefined,
  clientThrottled: () => undefined,
  listenerStarted: () => undefined,
  connectionOpened: () => undefined,
  connectionClosed: () => undefined,
  authenticationCompleted: () => undefined,
};

/** One client's throttle times under one quota (Kafka's `type=Produce|Fetch|Request,user,client-id` sensors). */
export interface ClientThrottleTimes {
  readonly quota: ClientQuotaType;
  readonly user: string;
  readonly clientId: string;
  readonly throttleTimeMs: SampledAvgMax;
}

/** Clients whose throttle times are kept; past it the least recently throttled one is dropped. */
export const throttledClientsMax = 10_000;

export interface TopicCounters {
  messagesIn: number;
  bytesIn: number;
  bytesOut: number;
}

export interface RequestCounters {
  /** Requests by API version (Kafka's RequestsPerSec has a `version` tag). */
  readonly byVersion: Map<number, number>;
  /** Kafka's TotalTimeMs, windowed like its metrics. */
  readonly totalTimeMs: SampledPercentiles;
  count: number;
  totalTimeMsSum: number;
}

/**
 * Topics whose counters are kept before the ones no longer in the metadata are dropped; the
 * exporter also drops them at every scrape, so this only matters when nobody scrapes.
 */
export const topicCountersMax = 10_000;

/** The numbers the exporter reads. */
export class BrokerMetricsRecorder implements BrokerMetrics {
  readonly topics = new Map<string, TopicCounters>();
  /** Every topic together: the series without a `topic` label, as Kafka's all-topics MBean. */
  readonly allTopics: TopicCounters = { messagesIn: 0, bytesIn: 0, bytesOut: 0 };
  readonly requests = new Map<string, RequestCounters>();
  isrShrinks = 0;
  isrExpands = 0;
  newActiveControllers = 0;
  readonly metadataCommitLatency: SampledAvgMax;
  /** By quota, user and client id; least recently throttled first. */
  readonly throttledClients = new Map<string, ClientThrottleTimes>();
  /** By listener name: bounded by the configured listeners. */
  readonly listeners = new Map<string, ListenerConnectionCounters>();

  constructor(
    readonly windows: SampleWindows,
    readonly clock: () => number,
    /** Whether a topic still exists; asked only when `topicCountersMax` is reached. */
    private readonly topicExists: (topic: string) => boolean,
  ) {
    this.metadataCommitLatency = new SampledAvgMax(windows);
  }

  nowMs(): number {
    return this.clock();
  }

  requestCompleted(request: string, apiVersion: number, startMs: number, endMs: number): void {
    let counters = this.requests.get(request);
    if (counters === undefined) {
      // Bounded by Kafka's request names: the router records only APIs it decoded.
      counters = {
        byVersion: new Map(),
        totalTimeMs: new SampledPercentiles(this.windows),
        count: 0,
        totalTimeMsSum: 0,
      };
      this.requests.set(request, counters);
    }
    const timeMs = endMs - startMs;
    counters.byVersion.set(apiVersion, (counters.byVersion.get(apiVersion) ?? 0) + 1);
    counters.count++;
    counters.totalTimeMsSum += timeMs;
    counters.totalTimeMs.record(timeMs, endMs);
  }

  produced(topic: string, messages: number, bytes: number): void {
    const counters = this.topic(topic);
    counters.messagesIn += messages;
    counters.bytesIn += bytes;
    this.allTopics.messagesIn += messages;
    this.allTopics.bytesIn += bytes;
  }

  fetchedByConsumer(topic: string, bytes: number): void {
    this.topic(topic).bytesOut += bytes;
    this.allTopics.bytesOut += bytes;
  }

  isrChanged(change: 'shrink' | 'expand'): void {
    if (change === 'shrink') this.isrShrinks++;
    else this.isrExpands++;
  }

  metadataCommitted(latencyMs: number, nowMs: number): void {
    this.metadataCommitLatency.record(latencyMs, nowMs);
  }

  newActiveController(): void {
    this.newActiveControllers++;
  }

  clientThrottled(quota: ClientQuotaType, who: ThrottledClient, throttleTimeMs: number): void {
    const key = `${quota}\u0000${who.user}\u0000${who.clientId}`;
    let times = this.throttledClients.get(key);
    if (times === undefined) {
      times = {
        quota,
        user: who.user,
        clientId: who.clientId,
        throttleTimeMs: new SampledAvgMax(this.windows),
      };
    } else {
      this.throttledClients.delete(key);
    }
    this.throttledClients.set(key, times);
    if (this.throttledClients.size > throttledClientsMax) {
      this.throttledClients.delete(this.throttledClients.keys().next().value!);
    }
    times.throttleTimeMs.record(throttleTimeMs, this.clock());
  }

  listenerStarted(listener: string): void {
    this.listener(listener);
  }

  connectionOpened(listener: string): void {
    const counters = this.listener(listener);
    counters.connections++;
    counters.connectionsCreated++;
    counters.connectionCreationRate.record(1, this.clock());
  }

  connectionClosed(listener: string): void {
    const counters = this.listener(listener);
    counters.connections--;
    counters.connectionsClosed++;
    counters.connectionCloseRate.record(1, this.clock());
  }

  authenticationCompleted(
    listener: string,
    outcome: AuthenticationOutcome,
    reauthentication: boolean,
    reauthenticationLatencyMs?: number,
  ): void {
    const counters = this.listener(listener);
    if (!reauthentication) {
      if (outcome === 'succeeded') counters.successfulAuthentications++;
      else counters.failedAuthentications++;
      return;
    }
    if (outcome === 'failed') {
      counters.failedReauthentications++;
      return;
    }
    counters.successfulReauthentications++;
    if (reauthenticationLatencyMs !== undefined) {
      counters.reauthenticationLatencyMs.record(reauthenticationLatencyMs, this.clock());
    }
  }

  /** Drops the counters of topics that no longer exist (Kafka removes a deleted topic's metrics). */
  forgetTopics(exists: (topic: string) => boolean): void {
    for (const topic of this.topics.keys()) if (!exists(topic)) this.topics.delete(topic);
  }

  private listener(listener: string): ListenerConnectionCounters {
    let counters = this.listeners.get(listener);
    if (counters === undefined) {
      counters = {
        connections: 0,
        connectionsCreated: 0,
        connectionCreationRate: new SampledRate(this.windows),
        connectionsClosed: 0,
        connectionCloseRate: new SampledRate(this.windows),
        successfulAuthentications: 0,
        failedAuthentications: 0,
        successfulReauthentications: 0,
        failedReauthentications: 0,
        reauthenticationLatencyMs: new SampledAvgMax(this.windows),
      };
      this.listeners.set(listener, counters);
    }
    return counters;
  }

  private topic(topic: string): TopicCounters {
    let counters = this.topics.get(topic);
    if (counters === undefined) {
      if (this.topics.size >= topicCountersMax) this.forgetTopics(this.topicExists);
      counters = { messagesIn: 0, bytesIn: 0, bytesOut: 0 };
      this.topics.set(topic, counters);
    }
    return counters;
  }
}

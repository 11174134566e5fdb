// kafkajs's instrumentation events (`consumer.on(consumer.events.HEARTBEAT, listener)`), one emitter
// shared by the consumer, the producer and the admin: the names, the event shape ({ id, type,
// timestamp, payload }) and the refusal of an unknown name are kafkajs's. Each client owns one
// emitter and hands it to its connections, which emit the network events (REQUEST...) under the
// client's namespace (`producer.network.request`), as kafkajs's wrapped events read.
// Emitting costs one map lookup when nobody listens: callers ask `listening()` before they build a
// payload on a hot path. A listener runs at once (as kafkajs's do); one that throws or rejects is
// logged, never allowed to stop the client.

import { KafkaJSNonRetriableError } from './errors.js';
import type { Logger } from './logger.js';

export interface InstrumentationEvent<T> {
  readonly id: number;
  readonly type: string;
  readonly timestamp: number;
  readonly payload: T;
}

export type InstrumentationListener<T> = (event: InstrumentationEvent<T>) => unknown;

/** The network events' names under a client's namespace, as kafkajs's `wrap` gives them. */
export function networkEventNames<N extends string>(namespace: N) {
  return {
    REQUEST: `${namespace}.network.request`,
    REQUEST_TIMEOUT: `${namespace}.network.request_timeout`,
    REQUEST_QUEUE_SIZE: `${namespace}.network.request_queue_size`,
  } as const;
}

/** A request answered (kafkajs's NETWORK_REQUEST). */
export interface RequestPayload {
  /** `host:port` */
  readonly broker: string;
  readonly clientId: string;
  readonly correlationId: number;
  /** Bytes of the response frame, its size prefix excluded (as kafkajs counts them). */
  readonly size: number;
  readonly createdAt: number;
  readonly sentAt: number;
  /** Time between createdAt and sentAt: always 0 here, as a request is written at once (no client-side queue). */
  readonly pendingDuration: number;
  /** Milliseconds from sending to the response. */
  readonly duration: number;
  readonly apiName: string;
  readonly apiKey: number;
  readonly apiVersion: number;
}

/** A request that got no answer within its timeout (kafkajs's NETWORK_REQUEST_TIMEOUT). */
export interface RequestTimeoutPayload {
  readonly broker: string;
  readonly clientId: string;
  readonly correlationId: number;
  readonly createdAt: number;
  readonly sentAt: number;
  readonly pendingDuration: number;
  readonly apiName: string;
  readonly apiKey: number;
  readonly apiVersion: number;
}

/** Requests waiting to be written on one connection (kafkajs's NETWORK_REQUEST_QUEUE_SIZE). */
export interface RequestQueueSizePayload {
  readonly broker: string;
  readonly clientId: string;
  readonly queueSize: number;
}

/** What a connection needs to emit the network events of the client that owns it. */
export interface NetworkInstrumentation {
  readonly names: {
    readonly REQUEST: string;
    readonly REQUEST_TIMEOUT: string;
    readonly REQUEST_QUEUE_SIZE: string;
  };
  listening(type: string): boolean;
  emit(type: string, payload: RequestPayload | RequestTimeoutPayload | RequestQueueSizePayload): void;
}

export const producerEvents = {
  CONNECT: 'producer.connect',
  DISCONNECT: 'producer.disconnect',
  ...networkEventNames('producer'),
} as const;

export const adminEvents = {
  CONNECT: 'admin.connect',
  DISCONNECT: 'admin.disconnect',
  ...networkEventNames('admin'),
} as const;

export type ProducerEventName = (typeof producerEvents)[keyof typeof producerEvents];
export type AdminEventName = (typeof adminEvents)[keyof typeof adminEvents];

export interface ProducerEventPayloads {
  [producerEvents.CONNECT]: undefined;
  [producerEvents.DISCONNECT]: undefined;
  [producerEvents.REQUEST]: RequestPayload;
  [producerEvents.REQUEST_TIMEOUT]: RequestTimeoutPayload;
  [producerEvents.REQUEST_QUEUE_SIZE]: RequestQueueSizePayload;
}

export interface AdminEventPayloads {
  [adminEvents.CONNECT]: undefined;
  [adminEvents.DISCONNECT]: undefined;
  [adminEvents.REQUEST]: RequestPayload;
  [adminEvents.REQUEST_TIMEOUT]: RequestTimeoutPayload;
  [adminEvents.REQUEST_QUEUE_SIZE]: RequestQueueSizePayload;
}

// kafkajs numbers events across every client of the process.
let nextEventId = 0;

/**
 * One client's events. `events` is its table (kafkajs's `consumer.events`), `path` how kafkajs names
 * the table in its refusal of an unknown name (`consumer.events`).
 */
export class InstrumentationEmitter<Payloads extends object> implements NetworkInstrumentation {
  private readonly listeners = new Map<string, Set<InstrumentationListener<unknown>>>();
  private readonly eventTypes: ReadonlySet<string>;
  readonly names: NetworkInstrumentation['names'];

  constructor(
    events: Readonly<Record<string, string>> & NetworkInstrumentation['names'],
    private readonly path: string,
    private readonly eventKeys: readonly string[],
    private readonly logger: Logger,
  ) {
    this.eventTypes = new Set(Object.values(events));
    this.names = events;
  }

  /** Adds a listener; returns the function that removes it, as kafkajs's `on` does. */
  on<E extends keyof Payloads & string>(
    eventName: E,
    listener: InstrumentationListener<Payloads[E]>,
  ): () => void {
    if (!this.eventTypes.has(eventName)) {
      throw new KafkaJSNonRetriableError(
        `Event name should be one of ${this.eventKeys.map((key) => `${this.path}.${key}`).join(', ')}`,
      );
    }
    let set = this.listeners.get(eventName);
    if (set === undefined) {
      set = new Set();
      this.listeners.set(eventName, set);
    }
    const entry = listener as InstrumentationListener<unknown>;
    set.add(entry);
    return () => {
      set.delete(entry);
    };
  }

  /** True when some listener waits for `type`: ask before building a payload on a hot path. */
  listening(type: string): boolean {
    const set = this.listeners.get(type);
    return set !== undefined && set.size > 0;
  }

  emit<E extends keyof Payloads & string>(type: E, payload: Payloads[E]): void;
  emit(type: string, payload: unknown): void;
  emit(type: string, payload: unknown): void {
    const listeners = this.listeners.get(type);
    if (listeners === undefined || listeners.size === 0) return;
    const event: InstrumentationEvent<unknown> = { id: nextEventId++, type, timestamp: Date.now(), payload };
    for (const listener of [...listeners]) {
      try {
        const result = listener(event);
        if (result instanceof Promise) result.catch((error: unknown) => this.listenerFailed(type, error));
      } catch (error) {
        this.listenerFailed(type, error);
      }
    }
  }

  private listenerFailed(eventName: string, error: unknown): void {
    this.logger.error(`Failed to execute listener: ${(error as Error).message}`, {
      eventName,
      stack: (error as Error).stack,
    });
  }
}

/** An emitter for `events`, with kafkajs's refusal text for unknown names. */
export function createInstrumentation<Payloads extends object>(
  events: Readonly<Record<string, string>> & NetworkInstrumentation['names'],
  path: string,
  logger: Logger,
): InstrumentationEmitter<Payloads> {
  return new InstrumentationEmitter<Payloads>(events, path, Object.keys(events), logger);
}

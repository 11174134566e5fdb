// kafkajs's instrumentation events for the consumer (`consumer.on(consumer.events.GROUP_JOIN, ...)`):
// the names and event shape ({ id, type, timestamp, payload }) are kafkajs's; a subset of its events.
// A listener that throws or rejects is logged, never allowed to stop the consumer.

import { KafkaJSNonRetriableError } from '../errors.js';
import type { Logger } from '../logger.js';

export const consumerEvents = {
  CONNECT: 'consumer.connect',
  DISCONNECT: 'consumer.disconnect',
  GROUP_JOIN: 'consumer.group_join',
  STOP: 'consumer.stop',
  CRASH: 'consumer.crash',
} as const;

export type ConsumerEventName = (typeof consumerEvents)[keyof typeof consumerEvents];

export interface GroupJoinPayload {
  readonly duration: number;
  readonly groupId: string;
  readonly isLeader: boolean;
  readonly leaderId: string;
  readonly groupProtocol: string;
  readonly memberId: string;
  readonly memberAssignment: Record<string, number[]>;
  /** Not in kafkajs: the generation joined (unchanged when a static member takes its place back). */
  readonly generationId: number;
  /** Not in kafkajs: this member's `groupInstanceId`, null for a dynamic member. */
  readonly groupInstanceId: string | null;
}

export interface CrashPayload {
  readonly error: Error;
  readonly groupId: string;
  /** Always false: a crashed consumer stays stopped (kafkajs's `restartOnFailure` is not here). */
  readonly restart: boolean;
}

export interface ConsumerEventPayloads {
  [consumerEvents.CONNECT]: undefined;
  [consumerEvents.DISCONNECT]: undefined;
  [consumerEvents.GROUP_JOIN]: GroupJoinPayload;
  [consumerEvents.STOP]: undefined;
  [consumerEvents.CRASH]: CrashPayload;
}

export interface InstrumentationEvent<T> {
  readonly id: number;
  readonly type: string;
  readonly timestamp: number;
  readonly payload: T;
}

type Listener = (event: InstrumentationEvent<unknown>) => unknown;

export class ConsumerInstrumentation {
  private readonly listeners = new Map<string, Set<Listener>>();
  private nextEventId = 0;

  constructor(private readonly logger: Logger) {}

  /** Adds a listener; returns the function that removes it, as kafkajs's `on` does. */
  on<E extends ConsumerEventName>(
    eventName: E,
    listener: (event: InstrumentationEvent<ConsumerEventPayloads[E]>) => unknown,
  ): () => void {
    if (!Object.values(consumerEvents).includes(eventName)) {
      throw new KafkaJSNonRetriableError(
        `Event name should be one of ${Object.keys(consumerEvents).join(', ')}`,
      );
    }
    let set = this.listeners.get(eventName);
    if (set === undefined) {
      set = new Set();
      this.listeners.set(eventName, set);
    }
    const entry = listener as Listener;
    set.add(entry);
    return () => set.delete(entry);
  }

  emit<E extends ConsumerEventName>(eventName: E, payload: ConsumerEventPayloads[E]): void {
    const listeners = this.listeners.get(eventName);
    if (listeners === undefined || listeners.size === 0) return;
    const event = { id: this.nextEventId++, type: eventName, timestamp: Date.now(), payload };
    for (const listener of listeners) {
      Promise.resolve()
        .then(() => listener(event))
        .catch((error: unknown) =>
          this.logger.error(`Failed to execute listener: ${(error as Error).message}`, { eventName }),
        );
    }
  }
}

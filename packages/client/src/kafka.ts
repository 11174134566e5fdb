// The entry point, in kafkajs's shape: `new Kafka({ clientId, brokers })` and its producer(),
// consumer() and admin(). Each of those owns its own Cluster (connections and metadata), as in kafkajs.

import type { ConnectionOptions } from 'node:tls';
import { Admin, type AdminConfig } from './admin.js';
import { Cluster } from './cluster.js';
import { Consumer, type ConsumerConfig } from './consumer/consumer.js';
import { type ConsumerEventPayloads, consumerEvents } from './consumer/instrumentation.js';
import { KafkaJSError } from './errors.js';
import {
  type AdminEventPayloads,
  adminEvents,
  createInstrumentation,
  type NetworkInstrumentation,
  type ProducerEventPayloads,
  producerEvents,
} from './instrumentation.js';
import {
  createLogger,
  defaultLogCreator,
  type LogCreator,
  type Logger,
  type LogLevel,
  logLevel,
} from './logger.js';
import { Producer, type ProducerConfig } from './producer/producer.js';
import { type ResolvedRetry, type RetryOptions, resolveRetry } from './retry.js';
import { type SASLOptions, validateSaslOptions } from './sasl/sasl-authenticator.js';

export interface KafkaConfig {
  readonly brokers: readonly string[];
  readonly clientId?: string;
  /** Milliseconds to open a connection. Default 1000, as kafkajs. */
  readonly connectionTimeout?: number;
  /** Milliseconds a request may wait for its answer. Default 30000, as kafkajs. */
  readonly requestTimeout?: number;
  readonly retry?: RetryOptions;
  readonly logLevel?: LogLevel;
  readonly logCreator?: LogCreator;
  /** TLS: `true` for Node's defaults (the system's CAs), or tls.connect options (`ca`, `cert`, `key`...). */
  readonly ssl?: boolean | ConnectionOptions;
  /** SASL on every connection: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512, named as kafkajs does. */
  readonly sasl?: SASLOptions;
}

export class Kafka {
  private readonly clientId: string;
  private readonly brokers: readonly string[];
  private readonly connectionTimeoutMs: number;
  private readonly requestTimeoutMs: number;
  private readonly retry: ResolvedRetry;
  private readonly rootLogger: Logger;
  private readonly ssl: boolean | ConnectionOptions;
  private readonly sasl: SASLOptions | undefined;

  constructor(config: KafkaConfig) {
    this.ssl = config.ssl ?? false;
    this.sasl = config.sasl === undefined ? undefined : validateSaslOptions(config.sasl);
    if (!Array.isArray(config.brokers) || config.brokers.length === 0) {
      throw new KafkaJSError('brokers must list at least one host:port');
    }
    this.clientId = config.clientId ?? 'gregor-client';
    this.brokers = config.brokers;
    this.connectionTimeoutMs = config.connectionTimeout ?? 1_000;
    this.requestTimeoutMs = config.requestTimeout ?? 30_000;
    this.retry = resolveRetry(config.retry);
    this.rootLogger = createLogger(config.logLevel ?? logLevel.INFO, config.logCreator ?? defaultLogCreator);
  }

  private cluster(
    options: { retry?: RetryOptions; allowAutoTopicCreation?: boolean },
    namespace: string,
    instrumentation: NetworkInstrumentation,
  ): Cluster {
    return new Cluster({
      clientId: this.clientId,
      brokers: this.brokers,
      connectionTimeoutMs: this.connectionTimeoutMs,
      requestTimeoutMs: this.requestTimeoutMs,
      retry: options.retry === undefined ? this.retry : resolveRetry({ ...this.retry, ...options.retry }),
      logger: this.rootLogger.namespace(namespace),
      allowAutoTopicCreation: options.allowAutoTopicCreation ?? true,
      ssl: this.ssl,
      sasl: this.sasl,
      instrumentation,
    });
  }

  // Each client's emitter is made first and shared with its cluster's connections, as kafkajs
  // shares one emitter between a client and its connections.
  producer(config: ProducerConfig & { retry?: RetryOptions } = {}): Producer {
    const logger = this.rootLogger.namespace('Producer');
    const instrumentation = createInstrumentation<ProducerEventPayloads>(
      producerEvents,
      'producer.events',
      logger,
    );
    return new Producer(
      this.cluster(config, 'Producer', instrumentation),
      logger,
      this.requestTimeoutMs,
      config,
      instrumentation,
    );
  }

  consumer(config: ConsumerConfig & { retry?: RetryOptions }): Consumer {
    const logger = this.rootLogger.namespace('Consumer');
    const instrumentation = createInstrumentation<ConsumerEventPayloads>(
      consumerEvents,
      'consumer.events',
      logger,
    );
    return new Consumer(this.cluster(config, 'Consumer', instrumentation), logger, config, instrumentation);
  }

  admin(config: AdminConfig & { retry?: RetryOptions } = {}): Admin {
    const logger = this.rootLogger.namespace('Admin');
    const instrumentation = createInstrumentation<AdminEventPayloads>(adminEvents, 'admin.events', logger);
    return new Admin(this.cluster(config, 'Admin', instrumentation), logger, config, instrumentation);
  }

  logger(): Logger {
    return this.rootLogger;
  }
}

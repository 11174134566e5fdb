// The client's errors, in kafkajs's shapes (name, retriable, type) so code that inspects kafkajs
// errors keeps working after switching the import.

import { ErrorCode, errorInfo } from '@gregor/protocol';

export class KafkaJSError extends Error {
  override name = 'KafkaJSError';
  readonly retriable: boolean;
  constructor(message: string, options: { readonly retriable?: boolean; readonly cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.retriable = options.retriable ?? false;
  }
}

/** A Kafka error code in a response: `type` is Kafka's name for it (NOT_LEADER_OR_FOLLOWER...). */
export class KafkaJSProtocolError extends KafkaJSError {
  override name = 'KafkaJSProtocolError';
  readonly type: string;
  readonly code: number;
  constructor(code: number, context?: string) {
    const info = errorInfo(code);
    super(context === undefined ? info.name : `${info.name}: ${context}`, { retriable: info.retriable });
    this.type = info.name;
    this.code = code;
  }
}

/**
 * SASL failed: the broker refused the credentials (`type` SASL_AUTHENTICATION_FAILED), does not offer
 * the mechanism (UNSUPPORTED_SASL_MECHANISM, `enabledMechanisms` lists what it offers), or a SCRAM
 * server did not prove it knows the credential. Never retriable: the same credentials fail again.
 */
export class KafkaJSSASLAuthenticationError extends KafkaJSError {
  override name = 'KafkaJSSASLAuthenticationError';
  readonly type: string;
  readonly code: number;
  constructor(
    code: number,
    message: string,
    readonly enabledMechanisms: readonly string[] = [],
  ) {
    super(message, { retriable: false });
    this.type = errorInfo(code).name;
    this.code = code;
  }
}

/** A call that can never succeed as made (kafkajs's name): a transaction used after it ended... */
export class KafkaJSNonRetriableError extends KafkaJSError {
  override name = 'KafkaJSNonRetriableError';
  constructor(message: string, options: { readonly cause?: unknown } = {}) {
    super(message, { retriable: false, ...options });
  }
}

/**
 * Another producer took this transactional id (its InitProducerId bumped the epoch), or the
 * coordinator aborted a transaction that outlived transactionTimeout: PRODUCER_FENCED or
 * INVALID_PRODUCER_EPOCH. Fatal: the producer takes no more transactions.
 */
export class KafkaJSProducerFencedError extends KafkaJSProtocolError {
  override name = 'KafkaJSProducerFencedError';
}

/**
 * The transaction cannot commit (a record was not acknowledged, an offset was not stored...): only
 * abort() is allowed; `cause` says what failed. The producer stays usable after the abort.
 */
export class KafkaJSTransactionAbortableError extends KafkaJSError {
  override name = 'KafkaJSTransactionAbortableError';
  constructor(cause: Error) {
    super(`the transaction must be aborted: ${cause.message}`, { retriable: false, cause });
  }
}

/**
 * Another consumer joined with this consumer's `groupInstanceId` (static membership) and took its
 * place: FENCED_INSTANCE_ID. Fatal for the consumer, as Java's FencedInstanceIdException is: it
 * stops, and `commitOffsets` rejects with this error from then on.
 */
export class KafkaJSFencedInstanceIdError extends KafkaJSProtocolError {
  override name = 'KafkaJSFencedInstanceIdError';
  constructor(
    readonly groupInstanceId: string,
    context: string,
  ) {
    super(ErrorCode.FENCED_INSTANCE_ID, `${context} (group instance id ${groupInstanceId})`);
  }
}

/** alterPartitionReassignments: the controller refused the request, or one partition's move. */
export class KafkaJSAlterPartitionReassignmentsError extends KafkaJSProtocolError {
  override name = 'KafkaJSAlterPartitionReassignmentsError';
  constructor(
    code: number,
    readonly topic?: string,
    readonly partition?: number,
    message?: string,
  ) {
    super(
      code,
      [topic === undefined ? undefined : `${topic}[${partition}]`, message].filter(Boolean).join(': ') ||
        undefined,
    );
  }
}

/** Several errors at once (kafkajs's name): the partitions whose reassignment was refused. */
export class KafkaJSAggregateError extends Error {
  override name = 'KafkaJSAggregateError';
  constructor(
    message: string,
    readonly errors: readonly Error[],
  ) {
    super(`${message}: ${errors.map((error) => error.message).join('; ')}`);
  }
}

export class KafkaJSConnectionError extends KafkaJSError {
  override name = 'KafkaJSConnectionError';
  constructor(message: string, options: { readonly cause?: unknown } = {}) {
    super(message, { retriable: true, ...options });
  }
}

export class KafkaJSNumberOfRetriesExceeded extends KafkaJSError {
  override name = 'KafkaJSNumberOfRetriesExceeded';
  readonly retryCount: number;
  constructor(cause: unknown, retryCount: number) {
    super(`${cause instanceof Error ? cause.message : String(cause)} (after ${retryCount} retries)`, {
      cause,
    });
    this.retryCount = retryCount;
  }
}

/** What a send() could not deliver: the records of each partition that were not acknowledged. */
export interface UndeliveredRecords {
  readonly topic: string;
  readonly partition: number;
  readonly count: number;
  readonly error: Error;
}

/**
 * send() rejects with this when any record it held was not acknowledged; `undelivered` names them,
 * `delivered` holds the metadata of the partitions that were.
 */
export class KafkaJSSendError extends KafkaJSError {
  override name = 'KafkaJSSendError';
  constructor(
    readonly undelivered: readonly UndeliveredRecords[],
    readonly delivered: readonly { topicName: string; partition: number; baseOffset: string }[],
  ) {
    super(
      `${undelivered.reduce((sum, entry) => sum + entry.count, 0)} record(s) not acknowledged: ${undelivered
        .map((entry) => `${entry.topic}[${entry.partition}] ${entry.count} (${entry.error.message})`)
        .join('; ')}`,
    );
  }
}

/** deleteGroups: the groups that could not be deleted (NON_EMPTY_GROUP, GROUP_ID_NOT_FOUND...). */
export class KafkaJSDeleteGroupsError extends KafkaJSError {
  override name = 'KafkaJSDeleteGroupsError';
  constructor(
    readonly groups: readonly { groupId: string; errorCode: number; error: KafkaJSProtocolError }[],
  ) {
    super(`could not delete ${groups.map((group) => `${group.groupId} (${group.error.type})`).join(', ')}`);
  }
}

/** deleteTopicRecords: the partitions whose leader refused (OFFSET_OUT_OF_RANGE, TOPIC_AUTHORIZATION_FAILED...). */
export class KafkaJSDeleteTopicRecordsError extends KafkaJSError {
  override name = 'KafkaJSDeleteTopicRecordsError';
  constructor(
    readonly topic: string,
    readonly partitions: readonly { partition: number; offset: string; error: KafkaJSProtocolError }[],
  ) {
    super(
      `could not delete records of ${topic}: ${partitions
        .map((entry) => `[${entry.partition}] to ${entry.offset} (${entry.error.type})`)
        .join(', ')}`,
    );
  }
}

export function isRetriable(error: unknown): boolean {
  return error instanceof KafkaJSError ? error.retriable : false;
}

// Storage's typed failures. Kafka-visible ones carry a Kafka error code (KafkaError); the others are
// programming or configuration errors of the caller and name what was wrong.

import { ErrorCode, KafkaError } from '@gregor/protocol';

/** A configuration key that is unknown or has a bad value. `key` names it exactly as given. */
export class LogConfigError extends Error {
  override readonly name = 'LogConfigError';
  constructor(
    readonly key: string,
    reason: string,
  ) {
    super(`log config ${key}: ${reason}`);
  }
}

/** A fetch or lookup below the log start offset or beyond the log end offset. */
export class OffsetOutOfRangeError extends KafkaError {
  constructor(
    readonly offset: number,
    readonly logStartOffset: number,
    readonly logEndOffset: number,
  ) {
    super(
      ErrorCode.OFFSET_OUT_OF_RANGE,
      `offset ${offset} is outside [${logStartOffset}, ${logEndOffset}] of the log`,
    );
  }
}

/**
 * A follower append whose offsets are below the log end offset or not increasing: replication must
 * truncate first. Like Kafka's UnexpectedAppendOffsetException, this is a bug in the caller.
 */
export class UnexpectedAppendOffsetError extends Error {
  override readonly name = 'UnexpectedAppendOffsetError';
  constructor(
    readonly firstOffset: number,
    readonly expectedAtLeast: number,
  ) {
    super(`follower append at offset ${firstOffset} but the next offset must be >= ${expectedAtLeast}`);
  }
}

/** More operations queued on one partition than `limit`: the caller is not applying back-pressure. */
export class StorageQueueFullError extends Error {
  override readonly name = 'StorageQueueFullError';
  constructor(
    readonly partition: string,
    readonly limit: number,
  ) {
    super(`${partition}: more than ${limit} storage operations queued`);
  }
}

/** The log was closed; no further operations are possible on this object. */
export class LogClosedError extends Error {
  override readonly name = 'LogClosedError';
  constructor(readonly partition: string) {
    super(`${partition}: log is closed`);
  }
}

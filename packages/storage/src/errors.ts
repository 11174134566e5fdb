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
 * Bytes of a `.log` inside its written size that are not a batch where one must start (a damaged
 * length field, say): Kafka's CorruptRecordException, answered CORRUPT_MESSAGE to consumers and
 * replica fetchers. Only a read sees it: an open after a clean shutdown trusts the files, and
 * recovery after an unclean one cuts the log at the first bad batch instead.
 */
export class CorruptRecordError extends KafkaError {
  constructor(
    readonly path: string,
    readonly position: number,
    reason: string,
  ) {
    super(ErrorCode.CORRUPT_MESSAGE, `${path}: no valid batch at position ${position} (${reason})`);
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

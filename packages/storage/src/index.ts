export {
  checkpointVersion,
  formatCheckpoint,
  logStartOffsetCheckpointName,
  parseCheckpoint,
  partitionKey,
  readCheckpointFile,
  recoveryPointCheckpointName,
  writeCheckpointFile,
} from './checkpoint-file.js';
export { type Clock, ManualClock, systemClock } from './clock.js';
export {
  LogClosedError,
  LogConfigError,
  StorageQueueFullError,
  UnexpectedAppendOffsetError,
} from './errors.js';
export { InvariantViolation, invariant } from './invariant.js';
export {
  type BrokerLogConfig,
  type CleanupPolicyName,
  type ConfigProps,
  defaultLogConfig,
  describeLogConfig,
  isBrokerLogConfigKey,
  type LogConfig,
  type LogConfigDefinition,
  logConfigDefinitions,
  neverLong,
  parseBrokerLogConfig,
  parseLogConfig,
  type TimestampTypeName,
} from './log-config.js';
export { cleanShutdownFileName, LogManager, type LogManagerOptions } from './log-manager.js';
export { offsetIndexEntryBytes } from './offset-index.js';
export {
  type AppendResult,
  type LogCheckpointListener,
  type LogReadResult,
  PartitionLog,
  type PartitionLogOptions,
  partitionQueueDepthMax,
  type ReadOptions,
  type TimestampLookupResult,
} from './partition-log.js';
export {
  deletedFileSuffix,
  indexFileSuffix,
  logFileSuffix,
  parsePartitionDirName,
  parseSegmentFileName,
  segmentFileName,
  timeIndexFileSuffix,
} from './segment-files.js';
export { timeIndexEntryBytes } from './time-index.js';

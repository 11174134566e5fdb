export { forEachConcurrently } from './bounded-concurrency.js';
export {
  checkpointVersion,
  cleanerOffsetCheckpointName,
  formatCheckpoint,
  logStartOffsetCheckpointName,
  parseCheckpoint,
  partitionKey,
  readCheckpointFile,
  recoveryPointCheckpointName,
  writeCheckpointFile,
} from './checkpoint-file.js';
export {
  CorruptRecordError,
  LogClosedError,
  LogConfigError,
  StorageQueueFullError,
  UnexpectedAppendOffsetError,
} from './errors.js';
export {
  asTooManyOpenFiles,
  CachedFile,
  FileHandleCache,
  type FileHandleCacheStats,
  isDescriptorExhaustion,
  openFilesMaxDefault,
  openFilesMaxMin,
  openFileWaitersMax,
  TooManyOpenFilesError,
} from './file-handle-cache.js';
export {
  type CleanableLog,
  CleanerBufferTooSmallError,
  type CompactionResult,
  type CompactOptions,
  cleanerReadChunkBytesDefault,
  groupSegmentsBySize,
} from './log-cleaner.js';
export { OffsetMap, offsetMapSlotBytes } from './log-cleaner-offset-map.js';
export { isCompacted } from './log-cleaner-produce-check.js';
export {
  cleanedFileSuffix,
  type SwapStep,
  type SwapStepObserver,
  swapFileSuffix,
} from './log-cleaner-swap.js';
export {
  type BrokerLogConfig,
  type CleanupPolicyName,
  type CompressionTypeName,
  type ConfigProps,
  compressionTypeNames,
  defaultLogCleanerConfig,
  defaultLogConfig,
  describeLogConfig,
  isBrokerLogConfigKey,
  type LogCleanerConfig,
  type LogConfig,
  type LogConfigDefinition,
  logCleanerConfigDefinitions,
  logConfigDefinitions,
  logConfigDoc,
  neverLong,
  parseBrokerLogConfig,
  parseLogConfig,
  type TimestampTypeName,
} from './log-config.js';
export { type LogDirCopyPace, LogDirCopyPacer, logDirCopyWindowMsDefault } from './log-dir-copy-pacer.js';
export {
  isIoError,
  isNoSpaceError,
  KafkaStorageError,
  LogDirFailureChannel,
  type LogDirFailureListener,
  type OfflineLogDir,
} from './log-dir-failure-channel.js';
export { type LogDirCopyThrottle, logDirMoveReadBytesMax } from './log-dir-move.js';
export {
  type CleanerRunOptions,
  type CleanerRunStats,
  cleanShutdownFileName,
  type FutureLogInfo,
  type GetOrCreateLogOptions,
  type LogDirMoveStart,
  LogManager,
  type LogManagerOptions,
  type LogToDelete,
} from './log-manager.js';
export { offsetIndexEntryBytes } from './offset-index.js';
export {
  type AppendOptions,
  type AppendResult,
  type FutureLogSwap,
  type LogCheckpointListener,
  type LogReadResult,
  PartitionLog,
  type PartitionLogOptions,
  partitionQueueDepthMax,
  type ReadOptions,
  type RetentionOptions,
  type TimestampLookupResult,
  type ValidatedBatchFrame,
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

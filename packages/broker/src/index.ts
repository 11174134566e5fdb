export { type BrokerConfig, brokerConfigFrom, loadBrokerConfig } from './config/broker-config.js';
export { ConfigError } from './config/config-def.js';
export { parseProperties } from './config/properties.js';
export {
  type DescribeMetadataResponse,
  type DescribeMetadataTarget,
  type DescribeMetadataTls,
  describeMetadata,
} from './grpc/describe-metadata-client.js';
export { createLogger, type Logger } from './logging.js';
export {
  allocatorEnvironmentVariable,
  allocatorOf,
  brokerAllocatorEnvironment,
  jemallocConfDefault,
  jemallocLibraryPaths,
  runningAllocator,
} from './node/allocator.js';
export {
  boundListenersFileName,
  readBoundListeners,
  readBoundMetricsPort,
} from './node/bound-listeners.js';
export {
  collectExternalMemoryGarbage,
  type ExternalMemoryGcStats,
  externalMemoryGrowthBytesMin,
  forcedMarkCompactIntervalMsMin,
} from './node/external-memory-gc.js';
export {
  GregorNode,
  type GregorNodeOptions,
  haltExitCode,
  metadataLogDirName,
  type NodeAddresses,
} from './node/gregor-node.js';
export { LogDirUnusableError } from './node/log-dir-check.js';
export { MetaPropertiesError, metaPropertiesFileName } from './node/meta-properties.js';
export {
  brokerNodeFlags,
  missingBrokerNodeFlagCost,
  missingBrokerNodeFlags,
  oldGenerationAllocationLimitMiBMin,
  youngGenerationSemiSpaceMiBMax,
} from './node/node-flags.js';

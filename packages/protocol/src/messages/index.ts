export * from './api.js';
export * from './api-keys.js';
export { apiVersionsApi } from './apis/api-versions.js';
export { createPartitionsApi } from './apis/create-partitions.js';
export { createTopicsApi } from './apis/create-topics.js';
export { deleteTopicsApi } from './apis/delete-topics.js';
export { configResourceType, describeConfigsApi } from './apis/describe-configs.js';
export { fetchApi } from './apis/fetch.js';
export { earliestTimestamp, latestTimestamp, listOffsetsApi } from './apis/list-offsets.js';
export { authorizedOperationsOmitted, metadataApi } from './apis/metadata.js';
export { produceApi } from './apis/produce.js';
export * from './codec.js';
export * from './frames.js';
export * from './header.js';
export * from './random-value.js';
export * from './registry.js';
// The DSL builders (f, t, struct) stay inside messages/: APIs are declared here, used elsewhere.
export {
  type Decoded,
  type EncodeInput,
  type FieldSpec,
  type Fields,
  inVersions,
  parseVersions,
  type TypeSpec,
  type UnknownTaggedFields,
  type VersionRange,
  zeroUuid,
} from './schema.js';

// Every API with a schema, by api key. The request/response unions in frames.ts are computed from
// this object, so adding an API here is what makes decodeRequest and encodeResponse know it.

import { ApiKey } from './api-keys.js';
import { apiVersionsApi } from './apis/api-versions.js';
import { createPartitionsApi } from './apis/create-partitions.js';
import { createTopicsApi } from './apis/create-topics.js';
import { deleteTopicsApi } from './apis/delete-topics.js';
import { describeConfigsApi } from './apis/describe-configs.js';
import { fetchApi } from './apis/fetch.js';
import { listOffsetsApi } from './apis/list-offsets.js';
import { metadataApi } from './apis/metadata.js';
import { produceApi } from './apis/produce.js';
import type { Decoded, EncodeInput } from './schema.js';

export const apis = {
  [ApiKey.Produce]: produceApi,
  [ApiKey.Fetch]: fetchApi,
  [ApiKey.ListOffsets]: listOffsetsApi,
  [ApiKey.Metadata]: metadataApi,
  [ApiKey.ApiVersions]: apiVersionsApi,
  [ApiKey.CreateTopics]: createTopicsApi,
  [ApiKey.DeleteTopics]: deleteTopicsApi,
  [ApiKey.DescribeConfigs]: describeConfigsApi,
  [ApiKey.CreatePartitions]: createPartitionsApi,
} as const;

export type Apis = typeof apis;
/** The api keys Gregor has codecs for (and advertises). */
export type SupportedApiKey = keyof Apis;

export type RequestBody<K extends SupportedApiKey> = Decoded<Apis[K]['request']['fields']>;
export type ResponseBody<K extends SupportedApiKey> = Decoded<Apis[K]['response']['fields']>;
export type RequestInput<K extends SupportedApiKey> = EncodeInput<Apis[K]['request']['fields']>;
export type ResponseInput<K extends SupportedApiKey> = EncodeInput<Apis[K]['response']['fields']>;

export function isSupportedApiKey(apiKey: number): apiKey is SupportedApiKey {
  return Object.hasOwn(apis, apiKey);
}

export function apiDefinition<K extends SupportedApiKey>(apiKey: K): Apis[K] {
  return apis[apiKey];
}

/** The ranges to advertise in an ApiVersions response: exactly the APIs with codecs. */
export function supportedApiVersions(): { apiKey: number; minVersion: number; maxVersion: number }[] {
  return Object.values(apis)
    .map((api) => ({
      apiKey: api.apiKey,
      minVersion: api.support.minVersion,
      maxVersion: api.support.maxVersion,
    }))
    .sort((a, b) => a.apiKey - b.apiKey);
}

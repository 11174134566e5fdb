// ApiVersions (key 18), versions 0-4 (v4: v3's layout, Kafka 4.0).
//   Request  v0-2 => (empty);  v3+ => client_software_name client_software_version TAG_BUFFER
//   Response       => error_code [api_keys => api_key min_version max_version] throttle_time_ms(1+)
//                     tagged(3+): 0 supported_features, 1 finalized_features_epoch, 2 finalized_features
// From v3 on the client's software name and version must match Kafka's pattern (letters, digits,
// '-' and '.', starting and ending with a letter or digit), else INVALID_REQUEST with no api keys,
// as Kafka's ApiVersionsRequest.isValid decides. A version beyond 4 never reaches this handler: the router answers it with error 35 in the v0
// layout (the client then retries with a version from that list).
//
// Features (KIP-584), from v3: the supported ones are the features table's with a level above 0
// (as Kafka's BrokerFeatures advertises them); before v4 a minimum of 0 is sent as 1, because
// older clients cannot read 0 (KAFKA-17011). The finalized ones are the image's FeatureLevelRecords,
// and their epoch is the metadata offset the image includes, as Kafka's KRaft brokers give it.

import { advertisedFeatures, supportedFeatures } from '@gregor/metadata';
import { ApiKey, ErrorCode, type RequestBody, type ResponseInput } from '@gregor/protocol';
import type { RequestContext } from './api-handler.js';
import { consumerGroupProtocolEnabled } from './consumer-group-topics.js';

type Key = typeof ApiKey.ApiVersions;

/** Kafka's ApiVersionsRequest.SOFTWARE_NAME_VERSION_PATTERN. */
const softwareNameOrVersion = /^[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?$/;

/** From this version on the request names the client software, which must be valid; and features are given. */
const clientSoftwareVersionMin = 3;

/** From this version on a supported feature's minimum may be 0 (KAFKA-17011). */
const featureMinZeroVersionMin = 4;

export async function handleApiVersions(
  body: RequestBody<Key>,
  apiVersion: number,
  context: RequestContext,
): Promise<ResponseInput<Key>> {
  if (
    apiVersion >= clientSoftwareVersionMin &&
    !(
      softwareNameOrVersion.test(body.clientSoftwareName) &&
      softwareNameOrVersion.test(body.clientSoftwareVersion)
    )
  ) {
    return { errorCode: ErrorCode.INVALID_REQUEST, apiKeys: [], throttleTimeMs: 0 };
  }
  const response: ResponseInput<Key> = {
    errorCode: ErrorCode.NONE,
    apiKeys: advertisedNow(context),
    throttleTimeMs: 0,
  };
  if (apiVersion < clientSoftwareVersionMin) return response;
  const { broker } = context;
  const image = broker.metadata.image();
  return {
    ...response,
    supportedFeatures: advertisedFeatures(broker.supportedFeatures ?? supportedFeatures).map((feature) => ({
      name: feature.name,
      minVersion: apiVersion < featureMinZeroVersionMin ? Math.max(1, feature.minLevel) : feature.minLevel,
      maxVersion: feature.maxLevel,
    })),
    finalizedFeaturesEpoch: BigInt(broker.metadata.appliedOffset()),
    finalizedFeatures: [...image.finalizedFeatures]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([name, level]) => ({ name, maxVersionLevel: level, minVersionLevel: level })),
  };
}

/** APIs a feature level turns on, left out while it is off (as Kafka's brokers leave them out). */
const consumerGroupApiKeys: ReadonlySet<number> = new Set([
  ApiKey.ConsumerGroupHeartbeat,
  ApiKey.ConsumerGroupDescribe,
]);

function advertisedNow(context: RequestContext): ResponseInput<Key>['apiKeys'] {
  const enabled = consumerGroupProtocolEnabled(context.broker.metadata.image());
  return context.advertisedApiVersions
    .filter((api) => enabled || !consumerGroupApiKeys.has(api.apiKey))
    .map((api) => ({ ...api }));
}

// ApiVersions (key 18), versions 0-4; flexible from 3. Its response header is always v0.
// v4 has v3's layout (Kafka 4.0, KAFKA-17011: a supported feature's min_version may be 0 from v4 on).
//   Request  v0-2 => (empty)
//   Request  v3+  => client_software_name client_software_version TAG_BUFFER
//   Response       => error_code [api_keys => api_key min_version max_version] throttle_time_ms(1+)
//                     tagged(3+): 0 supported_features, 1 finalized_features_epoch,
//                     2 finalized_features, 3 zk_migration_ready
// Spec: apache/kafka ApiVersionsRequest.json / ApiVersionsResponse.json.

import { defineApi } from '../api.js';
import { f } from '../schema.js';

export const apiVersionsApi = defineApi(
  'ApiVersions',
  {
    clientSoftwareName: f.string('3+', { ignorable: true }),
    clientSoftwareVersion: f.string('3+', { ignorable: true }),
  },
  {
    errorCode: f.int16('0+'),
    apiKeys: f.structArray('0+', {
      apiKey: f.int16('0+'),
      minVersion: f.int16('0+'),
      maxVersion: f.int16('0+'),
    }),
    throttleTimeMs: f.int32('1+', { ignorable: true }),
    supportedFeatures: f.structArray(
      '3+',
      { name: f.string('3+'), minVersion: f.int16('3+'), maxVersion: f.int16('3+') },
      { tag: 0, taggedVersions: '3+', ignorable: true },
    ),
    finalizedFeaturesEpoch: f.int64('3+', { tag: 1, taggedVersions: '3+', default: -1n, ignorable: true }),
    finalizedFeatures: f.structArray(
      '3+',
      { name: f.string('3+'), maxVersionLevel: f.int16('3+'), minVersionLevel: f.int16('3+') },
      { tag: 2, taggedVersions: '3+', ignorable: true },
    ),
    zkMigrationReady: f.bool('3+', { tag: 3, taggedVersions: '3+', default: false, ignorable: true }),
  },
);

// UpdateFeatures (key 57), versions 0-2; flexible from 0 (KIP-584 finalized features; v1 KIP-778
// upgrade types and validate_only; v2, Kafka 4.0, answers with the top-level error only).
//   Request  => timeout_ms [feature_updates => feature max_version_level allow_downgrade(0)
//               upgrade_type(1+)] validate_only(1+)
//   Response => throttle_time_ms error_code error_message(nullable)
//               [results => feature error_code error_message(nullable)](0-1)
// upgrade_type: 1 upgrade, 2 safe downgrade, 3 unsafe downgrade. Spec: apache/kafka
// UpdateFeaturesRequest.json / UpdateFeaturesResponse.json.

import { defineApi } from '../api.js';
import { f } from '../schema.js';

export const updateFeaturesApi = defineApi(
  'UpdateFeatures',
  {
    timeoutMs: f.int32('0+', { default: 60_000 }),
    featureUpdates: f.structArray('0+', {
      feature: f.string('0+'),
      maxVersionLevel: f.int16('0+'),
      allowDowngrade: f.bool('0', { default: false }),
      upgradeType: f.int8('1+', { default: 1 }),
    }),
    validateOnly: f.bool('1+', { default: false }),
  },
  {
    throttleTimeMs: f.int32('0+'),
    errorCode: f.int16('0+'),
    errorMessage: f.string('0+', { nullableVersions: '0+', default: null }),
    results: f.structArray(
      '0-1',
      {
        feature: f.string('0+'),
        errorCode: f.int16('0+'),
        errorMessage: f.string('0+', { nullableVersions: '0+', default: null }),
      },
      { ignorable: true },
    ),
  },
);

// AlterConfigs (key 33), versions 0-2; flexible from 2. Replaces a resource's whole dynamic config.
//   Request  => [resources => resource_type resource_name [configs => name value(nullable)]]
//               validate_only
//   Response => throttle_time_ms
//               [responses => error_code error_message(nullable) resource_type resource_name]
// Spec: apache/kafka AlterConfigsRequest.json / AlterConfigsResponse.json.

import { defineApi } from '../api.js';
import { f } from '../schema.js';

export const alterConfigsApi = defineApi(
  'AlterConfigs',
  {
    resources: f.structArray('0+', {
      resourceType: f.int8('0+'),
      resourceName: f.string('0+'),
      configs: f.structArray('0+', {
        name: f.string('0+'),
        value: f.string('0+', { nullableVersions: '0+' }),
      }),
    }),
    validateOnly: f.bool('0+'),
  },
  {
    throttleTimeMs: f.int32('0+'),
    responses: f.structArray('0+', {
      errorCode: f.int16('0+'),
      errorMessage: f.string('0+', { nullableVersions: '0+' }),
      resourceType: f.int8('0+'),
      resourceName: f.string('0+'),
    }),
  },
);

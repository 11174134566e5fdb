// IncrementalAlterConfigs (key 44), versions 0-1; flexible from 1.
//   Request  => [resources => resource_type resource_name
//                 [configs => name config_operation value(nullable)]] validate_only
//   Response => throttle_time_ms
//               [responses => error_code error_message(nullable) resource_type resource_name]
// config_operation: 0 SET, 1 DELETE, 2 APPEND, 3 SUBTRACT (the last two for list configs).
// Spec: apache/kafka IncrementalAlterConfigsRequest.json / IncrementalAlterConfigsResponse.json.

import { defineApi } from '../api.js';
import { f } from '../schema.js';

export const alterConfigOpType = { set: 0, delete: 1, append: 2, subtract: 3 } as const;

export const incrementalAlterConfigsApi = defineApi(
  'IncrementalAlterConfigs',
  {
    resources: f.structArray('0+', {
      resourceType: f.int8('0+'),
      resourceName: f.string('0+'),
      configs: f.structArray('0+', {
        name: f.string('0+'),
        configOperation: f.int8('0+'),
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

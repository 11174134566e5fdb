// CreateAcls (key 30), versions 0-3; flexible from 2.
//   Request  => [creations => resource_type resource_name resource_pattern_type(1+) principal host
//                 operation permission_type]
//   Response => throttle_time_ms [results => error_code error_message(nullable)]
// Spec: apache/kafka CreateAclsRequest.json / CreateAclsResponse.json.

import { defineApi } from '../api.js';
import { f } from '../schema.js';

export const createAclsApi = defineApi(
  'CreateAcls',
  {
    creations: f.structArray('0+', {
      resourceType: f.int8('0+'),
      resourceName: f.string('0+'),
      resourcePatternType: f.int8('1+', { default: 3 }),
      principal: f.string('0+'),
      host: f.string('0+'),
      operation: f.int8('0+'),
      permissionType: f.int8('0+'),
    }),
  },
  {
    throttleTimeMs: f.int32('0+'),
    results: f.structArray('0+', {
      errorCode: f.int16('0+'),
      errorMessage: f.string('0+', { nullableVersions: '0+' }),
    }),
  },
);

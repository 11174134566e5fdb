// DeleteAcls (key 31), versions 0-3; flexible from 2.
//   Request  => [filters => resource_type_filter resource_name_filter(nullable) pattern_type_filter(1+)
//                 principal_filter(nullable) host_filter(nullable) operation permission_type]
//   Response => throttle_time_ms [filter_results => error_code error_message(nullable)
//                 [matching_acls => error_code error_message(nullable) resource_type resource_name
//                   pattern_type(1+) principal host operation permission_type]]
// Spec: apache/kafka DeleteAclsRequest.json / DeleteAclsResponse.json.

import { defineApi } from '../api.js';
import { f } from '../schema.js';

export const deleteAclsApi = defineApi(
  'DeleteAcls',
  {
    filters: f.structArray('0+', {
      resourceTypeFilter: f.int8('0+'),
      resourceNameFilter: f.string('0+', { nullableVersions: '0+' }),
      patternTypeFilter: f.int8('1+', { default: 3 }),
      principalFilter: f.string('0+', { nullableVersions: '0+' }),
      hostFilter: f.string('0+', { nullableVersions: '0+' }),
      operation: f.int8('0+'),
      permissionType: f.int8('0+'),
    }),
  },
  {
    throttleTimeMs: f.int32('0+'),
    filterResults: f.structArray('0+', {
      errorCode: f.int16('0+'),
      errorMessage: f.string('0+', { nullableVersions: '0+' }),
      matchingAcls: f.structArray('0+', {
        errorCode: f.int16('0+'),
        errorMessage: f.string('0+', { nullableVersions: '0+' }),
        resourceType: f.int8('0+'),
        resourceName: f.string('0+'),
        patternType: f.int8('1+', { default: 3 }),
        principal: f.string('0+'),
        host: f.string('0+'),
        operation: f.int8('0+'),
        permissionType: f.int8('0+'),
      }),
    }),
  },
);

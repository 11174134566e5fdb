// DescribeAcls (key 29), versions 0-3; flexible from 2.
//   Request  => resource_type_filter(int8) resource_name_filter(nullable) pattern_type_filter(1+)
//               principal_filter(nullable) host_filter(nullable) operation(int8) permission_type(int8)
//   Response => throttle_time_ms error_code error_message(nullable)
//               [resources => resource_type resource_name pattern_type(1+)
//                 [acls => principal host operation permission_type]]
// Spec: apache/kafka DescribeAclsRequest.json / DescribeAclsResponse.json.

import { defineApi } from '../api.js';
import { f } from '../schema.js';

export const describeAclsApi = defineApi(
  'DescribeAcls',
  {
    resourceTypeFilter: f.int8('0+'),
    resourceNameFilter: f.string('0+', { nullableVersions: '0+' }),
    patternTypeFilter: f.int8('1+', { default: 3 }),
    principalFilter: f.string('0+', { nullableVersions: '0+' }),
    hostFilter: f.string('0+', { nullableVersions: '0+' }),
    operation: f.int8('0+'),
    permissionType: f.int8('0+'),
  },
  {
    throttleTimeMs: f.int32('0+'),
    errorCode: f.int16('0+'),
    errorMessage: f.string('0+', { nullableVersions: '0+' }),
    resources: f.structArray('0+', {
      resourceType: f.int8('0+'),
      resourceName: f.string('0+'),
      patternType: f.int8('1+', { default: 3 }),
      acls: f.structArray('0+', {
        principal: f.string('0+'),
        host: f.string('0+'),
        operation: f.int8('0+'),
        permissionType: f.int8('0+'),
      }),
    }),
  },
);

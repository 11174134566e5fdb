// DescribeClientQuotas (key 48), versions 0-1; flexible from 1.
//   Request  => [components => entity_type match_type(int8) match(nullable)] strict
//   Response => throttle_time_ms error_code error_message(nullable)
//               [entries => [entity => entity_type entity_name(nullable)]
//                           [values => key value(float64)]](nullable)
// match_type: 0 = exact name, 1 = the default entity, 2 = any specified name. A null entity name
// is the default entity of its type. Spec: apache/kafka DescribeClientQuotasRequest.json /
// ...Response.json.

import { defineApi } from '../api.js';
import { f } from '../schema.js';

export const describeClientQuotasApi = defineApi(
  'DescribeClientQuotas',
  {
    components: f.structArray('0+', {
      entityType: f.string('0+'),
      matchType: f.int8('0+'),
      match: f.string('0+', { nullableVersions: '0+' }),
    }),
    strict: f.bool('0+'),
  },
  {
    throttleTimeMs: f.int32('0+'),
    errorCode: f.int16('0+'),
    errorMessage: f.string('0+', { nullableVersions: '0+' }),
    entries: f.structArray(
      '0+',
      {
        entity: f.structArray('0+', {
          entityType: f.string('0+'),
          entityName: f.string('0+', { nullableVersions: '0+' }),
        }),
        values: f.structArray('0+', { key: f.string('0+'), value: f.float64('0+') }),
      },
      { nullableVersions: '0+' },
    ),
  },
);

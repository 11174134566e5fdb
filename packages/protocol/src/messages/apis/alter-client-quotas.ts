// AlterClientQuotas (key 49), versions 0-1; flexible from 1.
//   Request  => [entries => [entity => entity_type entity_name(nullable)]
//                           [ops => key value(float64) remove]] validate_only
//   Response => throttle_time_ms
//               [entries => error_code error_message(nullable)
//                           [entity => entity_type entity_name(nullable)]]
// A null entity name is the default entity of its type. Spec: apache/kafka
// AlterClientQuotasRequest.json / ...Response.json.

import { defineApi } from '../api.js';
import { f } from '../schema.js';

const entityFields = {
  entityType: f.string('0+'),
  entityName: f.string('0+', { nullableVersions: '0+' }),
};

export const alterClientQuotasApi = defineApi(
  'AlterClientQuotas',
  {
    entries: f.structArray('0+', {
      entity: f.structArray('0+', entityFields),
      ops: f.structArray('0+', {
        key: f.string('0+'),
        value: f.float64('0+'),
        remove: f.bool('0+'),
      }),
    }),
    validateOnly: f.bool('0+'),
  },
  {
    throttleTimeMs: f.int32('0+'),
    entries: f.structArray('0+', {
      errorCode: f.int16('0+'),
      errorMessage: f.string('0+', { nullableVersions: '0+' }),
      entity: f.structArray('0+', entityFields),
    }),
  },
);

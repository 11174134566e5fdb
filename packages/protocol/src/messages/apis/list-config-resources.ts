// ListConfigResources (key 74), versions 0-1; flexible from 0. Version 0 is Kafka's
// ListClientMetricsResources (KIP-714), which lists client metrics resources only; version 1 asks
// for resource types (KIP-1142).
//   Request  => [resource_types](1+)
//   Response => throttle_time_ms error_code [config_resources => resource_name resource_type(1+)]
// Spec: apache/kafka ListConfigResourcesRequest.json / ListConfigResourcesResponse.json.

import { defineApi } from '../api.js';
import { f, t } from '../schema.js';

/** ConfigResource.Type ids of the types ListConfigResources lists (Kafka's ConfigResource.Type). */
export const listedConfigResourceType = {
  topic: 2,
  broker: 4,
  brokerLogger: 8,
  clientMetrics: 16,
  group: 32,
} as const;

export const listConfigResourcesApi = defineApi(
  'ListConfigResources',
  { resourceTypes: f.array('1+', t.int8) },
  {
    throttleTimeMs: f.int32('0+'),
    errorCode: f.int16('0+'),
    configResources: f.structArray('0+', {
      resourceName: f.string('0+'),
      resourceType: f.int8('1+', { ignorable: true, default: listedConfigResourceType.clientMetrics }),
    }),
  },
);

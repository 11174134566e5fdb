// DescribeCluster (key 60), versions 0-2; flexible from 0. v2 can list fenced brokers (KIP-1073).
//   Request  => include_cluster_authorized_operations endpoint_type(1+) include_fenced_brokers(2+)
//   Response => throttle_time_ms error_code error_message(nullable) endpoint_type(1+) cluster_id
//               controller_id [brokers => broker_id host port rack(nullable) is_fenced(2+)]
//               cluster_authorized_operations
// endpoint_type: 1 brokers, 2 controllers. Spec: apache/kafka DescribeClusterRequest.json /
// DescribeClusterResponse.json.

import { defineApi } from '../api.js';
import { f } from '../schema.js';

export const describeClusterEndpointType = { brokers: 1, controllers: 2 } as const;

export const describeClusterApi = defineApi(
  'DescribeCluster',
  {
    includeClusterAuthorizedOperations: f.bool('0+'),
    endpointType: f.int8('1+', { default: 1 }),
    includeFencedBrokers: f.bool('2+'),
  },
  {
    throttleTimeMs: f.int32('0+'),
    errorCode: f.int16('0+'),
    errorMessage: f.string('0+', { nullableVersions: '0+', default: null }),
    endpointType: f.int8('1+', { default: 1 }),
    clusterId: f.string('0+'),
    controllerId: f.int32('0+', { default: -1 }),
    brokers: f.structArray('0+', {
      brokerId: f.int32('0+'),
      host: f.string('0+'),
      port: f.int32('0+'),
      rack: f.string('0+', { nullableVersions: '0+', default: null }),
      isFenced: f.bool('2+'),
    }),
    clusterAuthorizedOperations: f.int32('0+', { default: -2147483648 }),
  },
);

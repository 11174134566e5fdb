// FindCoordinator (key 10), versions 0-6; flexible from 3. Version 4 batches keys (KIP-699).
// Version 5 only adds TRANSACTION_ABORTABLE to the errors (KIP-890); version 6 adds key type 2,
// the share coordinator's "group:topicId:partition" keys (KIP-932). The layout is v4's from v4 on.
//   Request  v0-3 => key key_type(1+)
//   Request  v4   => key_type [coordinator_keys]
//   Response v0-3 => throttle_time_ms(1+) error_code error_message(1+, nullable) node_id host port
//   Response v4   => throttle_time_ms
//                    [coordinators => key node_id host port error_code error_message(nullable)]
// Key type: 0 group, 1 transaction, 2 share (v6+). Spec: apache/kafka FindCoordinatorRequest.json /
// FindCoordinatorResponse.json.

import { defineApi } from '../api.js';
import { f, t } from '../schema.js';

export const coordinatorKeyType = { group: 0, transaction: 1, share: 2 } as const;

export const findCoordinatorApi = defineApi(
  'FindCoordinator',
  {
    key: f.string('0-3'),
    keyType: f.int8('1+', { default: 0 }),
    coordinatorKeys: f.array('4+', t.string),
  },
  {
    throttleTimeMs: f.int32('1+', { ignorable: true }),
    errorCode: f.int16('0-3'),
    errorMessage: f.string('1-3', { nullableVersions: '1-3', ignorable: true, default: null }),
    nodeId: f.int32('0-3'),
    host: f.string('0-3'),
    port: f.int32('0-3'),
    coordinators: f.structArray('4+', {
      key: f.string('4+'),
      nodeId: f.int32('4+'),
      host: f.string('4+'),
      port: f.int32('4+'),
      errorCode: f.int16('4+'),
      errorMessage: f.string('4+', { nullableVersions: '4+', ignorable: true, default: null }),
    }),
  },
);

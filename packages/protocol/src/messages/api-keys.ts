// The Kafka APIs Gregor speaks: key numbers, the version range we support (and advertise in
// ApiVersions), and where Kafka's flexible versions start. Minimums are 0 on purpose: librdkafka
// refuses to start groups or falls back to old formats when a broker does not advertise old versions.
// The exception is a version Kafka 4 no longer serves and no client here sends (KIP-896):
// AlterReplicaLogDirs starts at v1, as Kafka 4.0's spec does ("Version 0 was removed in Apache
// Kafka 4.0, Version 1 is the new baseline"), and so do the four delegation token APIs (38-41).
// The message schemas in apis/*.ts take their version ranges from this table.

export const ApiKey = {
  Produce: 0,
  Fetch: 1,
  ListOffsets: 2,
  Metadata: 3,
  OffsetCommit: 8,
  OffsetFetch: 9,
  FindCoordinator: 10,
  JoinGroup: 11,
  Heartbeat: 12,
  LeaveGroup: 13,
  SyncGroup: 14,
  DescribeGroups: 15,
  ListGroups: 16,
  SaslHandshake: 17,
  ApiVersions: 18,
  CreateTopics: 19,
  DeleteTopics: 20,
  DeleteRecords: 21,
  InitProducerId: 22,
  OffsetForLeaderEpoch: 23,
  AddPartitionsToTxn: 24,
  AddOffsetsToTxn: 25,
  EndTxn: 26,
  WriteTxnMarkers: 27,
  TxnOffsetCommit: 28,
  DescribeAcls: 29,
  CreateAcls: 30,
  DeleteAcls: 31,
  DescribeConfigs: 32,
  AlterConfigs: 33,
  SaslAuthenticate: 36,
  AlterReplicaLogDirs: 34,
  DescribeLogDirs: 35,
  CreatePartitions: 37,
  CreateDelegationToken: 38,
  RenewDelegationToken: 39,
  ExpireDelegationToken: 40,
  DescribeDelegationToken: 41,
  DeleteGroups: 42,
  ElectLeaders: 43,
  IncrementalAlterConfigs: 44,
  AlterPartitionReassignments: 45,
  ListPartitionReassignments: 46,
  OffsetDelete: 47,
  DescribeClientQuotas: 48,
  AlterClientQuotas: 49,
  DescribeUserScramCredentials: 50,
  AlterUserScramCredentials: 51,
  DescribeQuorum: 55,
  UpdateFeatures: 57,
  DescribeCluster: 60,
  DescribeProducers: 61,
  UnregisterBroker: 64,
  DescribeTransactions: 65,
  ListTransactions: 66,
  ConsumerGroupHeartbeat: 68,
  ConsumerGroupDescribe: 69,
  ListConfigResources: 74,
  DescribeTopicPartitions: 75,
} as const;

export type ApiName = keyof typeof ApiKey;
export type ApiKeyNumber = (typeof ApiKey)[ApiName];

export interface ApiVersionSupport {
  readonly apiKey: ApiKeyNumber;
  readonly name: ApiName;
  readonly minVersion: number;
  readonly maxVersion: number;
  /** Kafka's first flexible version of this API; may lie beyond maxVersion (then none of ours is). */
  readonly firstFlexibleVersion: number;
}

function support(
  name: ApiName,
  maxVersion: number,
  firstFlexibleVersion: number,
  minVersion = 0,
): ApiVersionSupport {
  return { apiKey: ApiKey[name], name, minVersion, maxVersion, firstFlexibleVersion };
}

/** Ordered by api key, the order ApiVersions responses list them in. */
export const apiVersionSupport: readonly ApiVersionSupport[] = [
  support('Produce', 13, 9),
  support('Fetch', 18, 12),
  support('ListOffsets', 10, 6),
  support('Metadata', 13, 9),
  support('OffsetCommit', 10, 8),
  support('OffsetFetch', 10, 6),
  support('FindCoordinator', 6, 3),
  support('JoinGroup', 9, 6),
  support('Heartbeat', 4, 4),
  support('LeaveGroup', 5, 4),
  support('SyncGroup', 5, 4),
  support('DescribeGroups', 6, 5),
  support('ListGroups', 5, 3),
  support('SaslHandshake', 1, 2),
  support('ApiVersions', 4, 3),
  support('CreateTopics', 7, 5),
  support('DeleteTopics', 6, 4),
  support('DeleteRecords', 2, 2),
  support('InitProducerId', 5, 2),
  support('OffsetForLeaderEpoch', 4, 4),
  support('AddPartitionsToTxn', 5, 3),
  support('AddOffsetsToTxn', 4, 3),
  support('EndTxn', 5, 3),
  support('WriteTxnMarkers', 1, 1),
  support('TxnOffsetCommit', 5, 3),
  support('DescribeAcls', 3, 2),
  support('CreateAcls', 3, 2),
  support('DeleteAcls', 3, 2),
  support('DescribeConfigs', 4, 4),
  support('AlterConfigs', 2, 2),
  support('AlterReplicaLogDirs', 2, 2, 1),
  support('DescribeLogDirs', 4, 2),
  support('SaslAuthenticate', 2, 2),
  support('CreatePartitions', 3, 2),
  support('CreateDelegationToken', 3, 2, 1),
  support('RenewDelegationToken', 2, 2, 1),
  support('ExpireDelegationToken', 2, 2, 1),
  support('DescribeDelegationToken', 3, 2, 1),
  support('DeleteGroups', 2, 2),
  support('ElectLeaders', 2, 2),
  support('IncrementalAlterConfigs', 1, 1),
  support('AlterPartitionReassignments', 1, 0),
  support('ListPartitionReassignments', 0, 0),
  support('OffsetDelete', 0, 1),
  support('DescribeClientQuotas', 1, 1),
  support('AlterClientQuotas', 1, 1),
  support('DescribeUserScramCredentials', 0, 0),
  support('AlterUserScramCredentials', 0, 0),
  support('DescribeQuorum', 2, 0),
  support('UpdateFeatures', 2, 0),
  support('DescribeCluster', 2, 0),
  support('DescribeProducers', 0, 0),
  support('UnregisterBroker', 0, 0),
  support('DescribeTransactions', 0, 0),
  support('ListTransactions', 2, 0),
  support('ConsumerGroupHeartbeat', 1, 0),
  support('ConsumerGroupDescribe', 1, 0),
  support('ListConfigResources', 1, 0),
  support('DescribeTopicPartitions', 0, 0),
];

const supportByKey = new Map<number, ApiVersionSupport>(
  apiVersionSupport.map((entry) => [entry.apiKey, entry]),
);

export function apiSupport(apiKey: number): ApiVersionSupport | undefined {
  return supportByKey.get(apiKey);
}

export function isFlexibleVersion(apiKey: ApiKeyNumber, apiVersion: number): boolean {
  return apiVersion >= supportByKey.get(apiKey)!.firstFlexibleVersion;
}

/** Request header v1 (client id) for non-flexible versions, v2 (+ tagged fields) for flexible ones. */
export function requestHeaderVersion(apiKey: ApiKeyNumber, apiVersion: number): 1 | 2 {
  return isFlexibleVersion(apiKey, apiVersion) ? 2 : 1;
}

/**
 * Response header v0 (correlation id) or v1 (+ tagged fields) for flexible versions, except that
 * ApiVersions always answers with v0: a client that sent a version the broker does not know must
 * still be able to read the correlation id and the error.
 */
export function responseHeaderVersion(apiKey: ApiKeyNumber, apiVersion: number): 0 | 1 {
  if (apiKey === ApiKey.ApiVersions) return 0;
  return isFlexibleVersion(apiKey, apiVersion) ? 1 : 0;
}

export interface HeaderVersions {
  readonly apiVersion: number;
  readonly requestHeaderVersion: 1 | 2;
  readonly responseHeaderVersion: 0 | 1;
}

/** The header versions of every supported version of every API, as a table (for docs and tests). */
export function headerVersionTable(): ReadonlyMap<ApiName, readonly HeaderVersions[]> {
  const table = new Map<ApiName, HeaderVersions[]>();
  for (const entry of apiVersionSupport) {
    const rows: HeaderVersions[] = [];
    for (let apiVersion = entry.minVersion; apiVersion <= entry.maxVersion; apiVersion++) {
      rows.push({
        apiVersion,
        requestHeaderVersion: requestHeaderVersion(entry.apiKey, apiVersion),
        responseHeaderVersion: responseHeaderVersion(entry.apiKey, apiVersion),
      });
    }
    table.set(entry.name, rows);
  }
  return table;
}

// fast-check arbitraries for metadata records, shared by the codec and snapshot tests.

import fc from 'fast-check';
import type { BrokerEndpoint, MetadataRecord } from '../records.js';
import { brokerResourceType, topicResourceType } from '../records.js';
import { uuidFromBytes } from '../uuid.js';

export const uuidArb = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((bytes) => uuidFromBytes(bytes));
const int32Arb = fc.integer({ min: -0x80000000, max: 0x7fffffff });
const safeIntArb = fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER });
const brokerIdsArb = fc.array(int32Arb, { maxLength: 8 });

const endpointArb: fc.Arbitrary<BrokerEndpoint> = fc.record({
  name: fc.string(),
  host: fc.string(),
  port: int32Arb,
  securityProtocol: fc.integer({ min: -0x8000, max: 0x7fff }),
});

/** Any record the codec can carry, whether or not an image would accept it. */
export const metadataRecordArb: fc.Arbitrary<MetadataRecord> = fc.oneof(
  fc.record({
    type: fc.constant('registerBroker' as const),
    brokerId: int32Arb,
    incarnationId: uuidArb,
    brokerEpoch: safeIntArb,
    listeners: fc.array(endpointArb, { maxLength: 4 }),
    rack: fc.option(fc.string(), { nil: null }),
    fenced: fc.boolean(),
    inControlledShutdown: fc.boolean(),
  }),
  fc.record({
    type: fc.constantFrom('fenceBroker' as const, 'unfenceBroker' as const, 'unregisterBroker' as const),
    brokerId: int32Arb,
    brokerEpoch: safeIntArb,
  }),
  fc.record({
    type: fc.constant('brokerRegistrationChange' as const),
    brokerId: int32Arb,
    brokerEpoch: safeIntArb,
    inControlledShutdown: fc.boolean(),
  }),
  fc.record({ type: fc.constant('topic' as const), name: fc.string(), topicId: uuidArb }),
  fc.record({
    type: fc.constant('partition' as const),
    topicId: uuidArb,
    partitionIndex: int32Arb,
    replicas: brokerIdsArb,
    isr: brokerIdsArb,
    leader: int32Arb,
    leaderEpoch: int32Arb,
    partitionEpoch: int32Arb,
  }),
  fc.record({
    type: fc.constant('partitionChange' as const),
    topicId: uuidArb,
    partitionIndex: int32Arb,
    leader: fc.option(fc.integer({ min: -1, max: 0x7fffffff }), { nil: null }),
    isr: fc.option(brokerIdsArb, { nil: null }),
  }),
  // Version 1: a reassignment's fields (a partition with some, a change setting the replicas).
  fc.record({
    type: fc.constant('partition' as const),
    topicId: uuidArb,
    partitionIndex: int32Arb,
    replicas: brokerIdsArb,
    isr: brokerIdsArb,
    leader: int32Arb,
    leaderEpoch: int32Arb,
    partitionEpoch: int32Arb,
    addingReplicas: fc.array(int32Arb, { minLength: 1, maxLength: 4 }),
    removingReplicas: brokerIdsArb,
  }),
  fc.record({
    type: fc.constant('partitionChange' as const),
    topicId: uuidArb,
    partitionIndex: int32Arb,
    leader: fc.option(fc.integer({ min: -1, max: 0x7fffffff }), { nil: null }),
    isr: fc.option(brokerIdsArb, { nil: null }),
    replicas: brokerIdsArb,
    addingReplicas: fc.option(brokerIdsArb, { nil: null }),
    removingReplicas: fc.option(brokerIdsArb, { nil: null }),
  }),
  fc.record({
    type: fc.constant('config' as const),
    resourceType: fc.constantFrom(topicResourceType, brokerResourceType),
    resourceName: fc.string(),
    name: fc.string(),
    value: fc.option(fc.string(), { nil: null }),
  }),
  fc.record({ type: fc.constant('removeTopic' as const), topicId: uuidArb }),
  fc.record({
    type: fc.constant('producerIds' as const),
    brokerId: int32Arb,
    brokerEpoch: safeIntArb,
    nextProducerId: safeIntArb,
  }),
  fc.record({
    type: fc.constant('controllerActivation' as const),
    controllerId: int32Arb,
    controllerEpoch: int32Arb,
  }),
  fc.record({
    type: fc.constant('brokerReplicasOffline' as const),
    brokerId: int32Arb,
    brokerEpoch: safeIntArb,
    logDirs: fc.array(fc.string(), { maxLength: 3 }),
    replicas: fc.array(fc.record({ topicId: uuidArb, partitionIndex: int32Arb }), { maxLength: 4 }),
  }),
  fc.record({
    type: fc.constant('userScramCredential' as const),
    name: fc.string(),
    mechanism: fc.integer({ min: -128, max: 127 }),
    salt: fc.uint8Array({ maxLength: 32 }).map((bytes) => Buffer.from(bytes)),
    storedKey: fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes)),
    serverKey: fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes)),
    iterations: int32Arb,
  }),
  fc.record({
    type: fc.constant('removeUserScramCredential' as const),
    name: fc.string(),
    mechanism: fc.integer({ min: -128, max: 127 }),
  }),
  fc.record({
    type: fc.constant('delegationToken' as const),
    tokenId: fc.string(),
    owner: fc.string(),
    requester: fc.string(),
    renewers: fc.array(fc.string(), { maxLength: 3 }),
    issueTimestampMs: safeIntArb,
    maxTimestampMs: safeIntArb,
    expirationTimestampMs: safeIntArb,
  }),
  fc.record({ type: fc.constant('removeDelegationToken' as const), tokenId: fc.string() }),
  fc.record({
    type: fc.constant('accessControlEntry' as const),
    id: uuidArb,
    resourceType: fc.integer({ min: -128, max: 127 }),
    resourceName: fc.string(),
    patternType: fc.integer({ min: -128, max: 127 }),
    principal: fc.string(),
    host: fc.string(),
    operation: fc.integer({ min: -128, max: 127 }),
    permissionType: fc.integer({ min: -128, max: 127 }),
  }),
  fc.record({ type: fc.constant('removeAccessControlEntry' as const), id: uuidArb }),
  fc.record({
    type: fc.constant('clientQuota' as const),
    entity: fc.array(
      fc.record({ entityType: fc.string(), entityName: fc.option(fc.string(), { nil: null }) }),
      { maxLength: 3 },
    ),
    key: fc.string(),
    value: fc.option(fc.double(), { nil: null }),
  }),
  fc.record({
    type: fc.constant('featureLevel' as const),
    name: fc.string(),
    level: fc.integer({ min: -32768, max: 32767 }),
  }),
  fc.record({
    type: fc.constant('clusterSecret' as const),
    secret: fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes)),
  }),
);

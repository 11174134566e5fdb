// Admin APIs driven by independent real clients against one cluster of three broker processes
// (Kafka's StandardAuthorizer on, User:ANONYMOUS a super user on PLAINTEXT).
// - kafkajs's admin, @platformatic/kafka's Admin and kafka-python 2.0.2's KafkaAdminClient (Debian's
//   python3-kafka, as python/kafka_python_admin.py) each list and describe a group a kafkajs
//   consumer holds and agree on it (ListGroups, DescribeGroups); each is refused the held group
//   with NON_EMPTY_GROUP and deletes an empty one, which is then gone; an unknown group is
//   GROUP_ID_NOT_FOUND (DeleteGroups).
// - ACLs created by kafka-python and @platformatic/kafka are described and deleted by the others
//   (CreateAcls, DescribeAcls, DeleteAcls).
// - @platformatic/kafka deletes one partition's committed offset of an empty group and is refused
//   the held group's with GROUP_SUBSCRIBED_TO_TOPIC (OffsetDelete), sets and appends to topic
//   configs, read back by kafkajs (IncrementalAlterConfigs), and lists the log dir of every replica
//   of a topic (DescribeLogDirs).
// - @platformatic/kafka's DescribeConfigs v3 and v4 codecs read a topic's configs and some of a
//   broker's with the types Kafka's ConfigDef gives them, and, when asked (v4), their synonyms and
//   documentation.
// - Debian's confluent-kafka-python 1.7 binding has none of these calls, so librdkafka 2.15's own C
//   admin API (what confluent-kafka for Go and .NET wrap) runs through ctypes as
//   python/librdkafka_admin.py: it lists the three nodes and the controller (DescribeCluster), asks
//   for preferred leaders that already lead (ELECTION_NOT_NEEDED) and of an unknown topic
//   (ElectLeaders), deletes, subtracts from and sets topic configs, read back by kafkajs
//   (IncrementalAlterConfigs), deletes a partition's committed offset and is refused the held
//   group's (OffsetDelete), and adds, describes and deletes a SCRAM credential, a user without one
//   being RESOURCE_NOT_FOUND (AlterUserScramCredentials, DescribeUserScramCredentials).
// - @platformatic/kafka's DescribeCluster v1 codec sees the cluster id, controller and brokers that
//   librdkafka sees and the processes listen on; a SCRAM credential @platformatic/kafka adds (its
//   salted password computed here) is described by librdkafka and the other way round, and a
//   deletion by one is what the other sees (Describe/AlterUserScramCredentials).
// - @platformatic/kafka and librdkafka delete records up to an offset and to the high watermark,
//   past it OFFSET_OUT_OF_RANGE, and kafkajs sees the new log start offsets (DeleteRecords).

import { execFileSync } from 'node:child_process';
import { pbkdf2Sync } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import {
  AclOperations,
  AclPermissionTypes,
  alterUserScramCredentialsV0,
  ConfigSources,
  Connection,
  describeClusterV1,
  describeConfigsV3,
  describeConfigsV4,
  describeUserScramCredentialsV0,
  Admin as PlatformaticAdmin,
  ConfigResourceTypes as PlatformaticConfigResourceTypes,
  ResourcePatternTypes,
  ResourceTypes,
} from '@platformatic/kafka';
import {
  AclOperationTypes,
  AclResourceTypes,
  ConfigResourceTypes,
  Kafka,
  AclPermissionTypes as KafkajsAclPermissionTypes,
  type Admin as KafkajsAdmin,
  type Consumer as KafkajsConsumer,
  ResourcePatternTypes as KafkajsPatternTypes,
  logLevel,
} from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { currentLibrdkafkaEnv, currentLibrdkafkaVersion } from '../testing/current-librdkafka.js';
import { ProcessCluster } from '../testing/process-cluster.js';

const pythonTimeoutMs = 60_000;
const outputBytesMax = 16 * 1024 * 1024;
const pythonAdmin = new URL('./python/kafka_python_admin.py', import.meta.url).pathname;
const librdkafkaAdmin = new URL('./python/librdkafka_admin.py', import.meta.url).pathname;
const nonEmptyGroup = 68;
const groupSubscribedToTopic = 86;
const groupIdNotFound = 69;
const electionNotNeeded = 84;
const unknownTopicOrPartition = 3;
const resourceNotFound = 91;
const offsetOutOfRange = 1;
/** DescribeCluster's endpoint_type for brokers (KIP-919). */
const brokersEndpointType = 1;
/** ScramMechanism ids of the SCRAM APIs (KIP-554). */
const scramSha256 = 1;
const scramSha512 = 2;

/**
 * Kafka's ConfigDef type (DescribeConfigs v3+ config_type: BOOLEAN 1, STRING 2, INT 3, SHORT 4,
 * LONG 5, DOUBLE 6, LIST 7) of every config a topic reports (TopicConfig, LogConfig).
 */
const kafkaTopicConfigTypes: Record<string, number> = {
  'cleanup.policy': 7,
  'compression.type': 2,
  'delete.retention.ms': 5,
  'flush.messages': 5,
  'flush.ms': 5,
  'index.interval.bytes': 3,
  'max.message.bytes': 3,
  'message.timestamp.after.max.ms': 5,
  'message.timestamp.before.max.ms': 5,
  'message.timestamp.type': 2,
  'min.cleanable.dirty.ratio': 6,
  'min.compaction.lag.ms': 5,
  'min.insync.replicas': 3,
  'retention.bytes': 5,
  'retention.ms': 5,
  'segment.bytes': 3,
  'segment.index.bytes': 3,
  'segment.ms': 5,
  'unclean.leader.election.enable': 1,
};
/** The same for some broker configs, one of each type a broker reports here (KafkaConfig, ServerLogConfigs). */
const kafkaBrokerConfigTypes: Record<string, number> = {
  'auto.create.topics.enable': 1,
  'authorizer.class.name': 2,
  'node.id': 3,
  'offsets.topic.replication.factor': 4,
  'log.retention.ms': 5,
  'log.cleaner.min.cleanable.ratio': 6,
  'process.roles': 7,
};

const topic = 'admin-clients';
const heldGroup = 'admin-held';
/** Empty groups with committed offsets, one for each client to delete, and one for OffsetDelete. */
const emptyGroups = {
  kafkajs: 'admin-empty-kafkajs',
  kafkaPython: 'admin-empty-kafka-python',
  platformatic: 'admin-empty-platformatic',
  offsets: 'admin-offsets',
} as const;

let cluster: ProcessCluster;
let bootstrap: string;
let kafka: Kafka;
let kafkajsAdmin: KafkajsAdmin;
let platformatic: PlatformaticAdmin;
let heldConsumer: KafkajsConsumer;

beforeAll(async () => {
  cluster = await ProcessCluster.start({
    nodeCount: 3,
    properties: {
      'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
      'super.users': 'User:ANONYMOUS',
      'allow.everyone.if.no.acl.found': 'false',
      'offsets.topic.num.partitions': '3',
      'offsets.topic.replication.factor': '3',
      'group.initial.rebalance.delay.ms': '0',
    },
  });
  bootstrap = `127.0.0.1:${cluster.node(2).kafkaPort}`;
  kafka = new Kafka({ clientId: 'kafkajs-admin', brokers: [bootstrap], logLevel: logLevel.NOTHING });
  kafkajsAdmin = kafka.admin();
  await kafkajsAdmin.connect();
  platformatic = new PlatformaticAdmin({ clientId: 'platformatic-admin', bootstrapBrokers: [bootstrap] });
  await kafkajsAdmin.createTopics({
    topics: [{ topic, numPartitions: 3, replicationFactor: 3 }],
    waitForLeaders: true,
  });
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({
    topic,
    messages: [0, 1, 2].flatMap((partition) => [
      { partition, value: `p${partition}-a` },
      { partition, value: `p${partition}-b` },
    ]),
  });
  await producer.disconnect();
  for (const groupId of Object.values(emptyGroups)) {
    await kafkajsAdmin.setOffsets({
      groupId,
      topic,
      partitions: [0, 1, 2].map((partition) => ({ partition, offset: '1' })),
    });
  }
  heldConsumer = kafka.consumer({ groupId: heldGroup, sessionTimeout: 30_000 });
  await heldConsumer.connect();
  await heldConsumer.subscribe({ topics: [topic], fromBeginning: true });
  const consumed = new Set<number>();
  await new Promise<void>((resolve, reject) => {
    heldConsumer
      .run({
        eachMessage: async ({ partition }) => {
          consumed.add(partition);
          if (consumed.size === 3) resolve();
        },
      })
      .catch(reject);
  });
}, 120_000);

afterAll(async () => {
  await heldConsumer?.disconnect();
  await kafkajsAdmin?.disconnect();
  await platformatic?.close();
  await cluster?.close();
});

function kafkaPython<T>(command: object): T {
  const output = execFileSync('/usr/bin/python3', [pythonAdmin], {
    input: JSON.stringify({ bootstrap, ...command }),
    timeout: pythonTimeoutMs,
    maxBuffer: outputBytesMax,
    encoding: 'utf8',
  });
  return JSON.parse(output) as T;
}

/** The Kafka error codes an error of @platformatic/kafka carries, its nested errors' included. */
function platformaticErrorCodes(error: unknown): number[] {
  const codes: number[] = [];
  const visit = (value: unknown, depth: number) => {
    if (depth > 6 || value === null || typeof value !== 'object') return;
    const record = value as Record<string, unknown>;
    if (typeof record.apiCode === 'number') codes.push(record.apiCode);
    for (const key of ['errors', 'cause', 'response']) {
      const nested = record[key];
      if (Array.isArray(nested)) for (const entry of nested) visit(entry, depth + 1);
      else visit(nested, depth + 1);
    }
    if (record.response !== undefined && typeof record.response === 'object') {
      const groups = (record.response as { groups?: { errorCode: number }[] }).groups;
      for (const group of groups ?? []) codes.push(group.errorCode);
    }
  };
  visit(error, 0);
  return codes;
}

/** Runs steps of python/librdkafka_admin.py in one process; fails unless on librdkafka 2.15. */
function librdkafka(steps: object[]): unknown[] {
  const output = execFileSync('/usr/bin/python3', [librdkafkaAdmin], {
    input: JSON.stringify({ bootstrap, steps }),
    env: currentLibrdkafkaEnv(),
    timeout: pythonTimeoutMs,
    maxBuffer: outputBytesMax,
    encoding: 'utf8',
  });
  const answer = JSON.parse(output) as { librdkafka: string; answers: unknown[] };
  expect(answer.librdkafka).toBe(currentLibrdkafkaVersion);
  return answer.answers;
}

/**
 * A change to the metadata log (ACLs, configs, SCRAM users) is answered once it is applied on the
 * broker that took it; another broker may apply it a moment later, as on Kafka. A read through
 * another client may reach that broker: read again, a bounded number of times, until `done`.
 */
const readAttemptsMax = 50;
const readPauseMs = 100;
async function eventually<T>(read: () => Promise<T> | T, done: (value: T) => boolean): Promise<T> {
  let value = await read();
  for (let attempt = 1; attempt < readAttemptsMax && !done(value); attempt++) {
    await new Promise((resolve) => setTimeout(resolve, readPauseMs));
    value = await read();
  }
  return value;
}

/** Runs `body` on one @platformatic/kafka connection to the bootstrap broker (its raw API codecs). */
async function withPlatformatic<T>(
  clientId: string,
  body: (connection: Connection) => Promise<T>,
): Promise<T> {
  const connection = new Connection(clientId);
  await connection.connect('127.0.0.1', cluster.node(2).kafkaPort);
  try {
    return await body(connection);
  } finally {
    await connection.close();
  }
}

/** The topic's configs as kafkajs describes them: name -> [value, isDefault]. */
async function kafkajsTopicConfigs(names: string[]): Promise<Record<string, [string, boolean]>> {
  const described = await kafkajsAdmin.describeConfigs({
    resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: names }],
    includeSynonyms: false,
  });
  return Object.fromEntries(
    (described.resources[0]?.configEntries ?? []).map((entry) => [
      entry.configName,
      [entry.configValue, entry.isDefault],
    ]),
  );
}

const deepEqualTo = (expected: unknown) => (value: unknown) => isDeepStrictEqual(value, expected);

interface PythonGroups {
  listed: [string, string][];
  described: {
    group: string;
    error: number;
    state: string;
    protocol_type: string;
    protocol: string;
    members: { client_id: string; topics: string[]; assigned: Record<string, number[]> }[];
  }[];
  deleted: [string, number][];
  listed_after: string[];
}

describe('admin APIs with independent clients against three broker processes', () => {
  it('kafkajs, @platformatic/kafka and kafka-python list and describe the same groups', async () => {
    const allGroups = [heldGroup, ...Object.values(emptyGroups)].sort();

    const kafkajsListed = await kafkajsAdmin.listGroups();
    expect(kafkajsListed.groups.map((group) => group.groupId).sort()).toEqual(allGroups);
    expect(kafkajsListed.groups.find((group) => group.groupId === heldGroup)?.protocolType).toBe('consumer');
    const [kafkajsHeld] = (await kafkajsAdmin.describeGroups([heldGroup])).groups;
    expect(kafkajsHeld).toMatchObject({ groupId: heldGroup, state: 'Stable', protocolType: 'consumer' });
    expect(kafkajsHeld?.members.length).toBe(1);
    const memberId = kafkajsHeld?.members[0]?.memberId;
    const [kafkajsEmpty] = (await kafkajsAdmin.describeGroups([emptyGroups.kafkajs])).groups;
    expect(kafkajsEmpty).toMatchObject({ state: 'Empty', members: [] });

    const platformaticListed = await platformatic.listGroups();
    expect([...platformaticListed.keys()].sort()).toEqual(allGroups);
    expect(platformaticListed.get(heldGroup)).toMatchObject({ state: 'STABLE', protocolType: 'consumer' });
    expect(platformaticListed.get(emptyGroups.platformatic)?.state).toBe('EMPTY');
    const platformaticDescribed = await platformatic.describeGroups({
      groups: [heldGroup, emptyGroups.platformatic],
    });
    const platformaticHeld = platformaticDescribed.get(heldGroup);
    expect(platformaticHeld).toMatchObject({ state: 'STABLE', protocolType: 'consumer' });
    expect(platformaticHeld?.protocol).toBe(kafkajsHeld?.protocol);
    expect([...(platformaticHeld?.members.keys() ?? [])]).toEqual([memberId]);
    expect(platformaticDescribed.get(emptyGroups.platformatic)?.members.size).toBe(0);

    const python = kafkaPython<PythonGroups>({
      op: 'groups',
      describe: [heldGroup],
      delete: [heldGroup, emptyGroups.kafkaPython, 'admin-no-such-group'],
    });
    expect(python.listed.map(([group]) => group).sort()).toEqual(allGroups);
    expect(python.described).toEqual([
      {
        group: heldGroup,
        error: 0,
        state: 'Stable',
        protocol_type: 'consumer',
        protocol: kafkajsHeld?.protocol,
        members: [{ client_id: 'kafkajs-admin', topics: [topic], assigned: { [topic]: [0, 1, 2] } }],
      },
    ]);
    // DeleteGroups: the held group is refused, the empty one deleted, an unknown one not found.
    expect(python.deleted).toEqual([
      [heldGroup, nonEmptyGroup],
      [emptyGroups.kafkaPython, 0],
      ['admin-no-such-group', groupIdNotFound],
    ]);
    expect(python.listed_after).toEqual(allGroups.filter((group) => group !== emptyGroups.kafkaPython));
  });

  it('kafkajs and @platformatic/kafka delete an empty group and are refused a held one', async () => {
    const refused = await kafkajsAdmin.deleteGroups([heldGroup]).then(
      () => undefined,
      (error: { groups?: { groupId: string; errorCode: number }[] }) => error,
    );
    expect(refused?.groups?.map((group) => [group.groupId, group.errorCode])).toEqual([
      [heldGroup, nonEmptyGroup],
    ]);
    expect(await kafkajsAdmin.deleteGroups([emptyGroups.kafkajs])).toEqual([
      expect.objectContaining({ groupId: emptyGroups.kafkajs, errorCode: 0 }),
    ]);

    const platformaticRefused = await platformatic.deleteGroups({ groups: [heldGroup] }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(platformaticRefused).toBeDefined();
    expect(platformaticErrorCodes(platformaticRefused)).toContain(nonEmptyGroup);
    await platformatic.deleteGroups({ groups: [emptyGroups.platformatic] });

    const left = (await kafkajsAdmin.listGroups()).groups.map((group) => group.groupId).sort();
    expect(left).toEqual([emptyGroups.offsets, heldGroup].sort());
    const described = (await kafkajsAdmin.describeGroups([heldGroup])).groups[0];
    expect(described?.state).toBe('Stable');
  });

  it("@platformatic/kafka deletes an empty group's offsets and is refused a held group's (OffsetDelete)", async () => {
    await platformatic.deleteConsumerGroupOffsets({
      groupId: emptyGroups.offsets,
      topics: [{ name: topic, partitionIndexes: [0] }],
    });
    const offsets = await kafkajsAdmin.fetchOffsets({ groupId: emptyGroups.offsets, topics: [topic] });
    expect(
      offsets[0]?.partitions
        .slice()
        .sort((a, b) => a.partition - b.partition)
        .map((entry) => [entry.partition, entry.offset]),
    ).toEqual([
      [0, '-1'],
      [1, '1'],
      [2, '1'],
    ]);

    const refused = await platformatic
      .deleteConsumerGroupOffsets({ groupId: heldGroup, topics: [{ name: topic, partitionIndexes: [0] }] })
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(platformaticErrorCodes(refused)).toContain(groupSubscribedToTopic);
  });

  it('ACLs created by one client are described and deleted by the others', async () => {
    const aliceRead = {
      principal: 'User:alice',
      host: '*',
      operation: 'READ',
      permission: 'ALLOW',
      resource_type: 'TOPIC',
      name: 'acl-orders',
      pattern: 'LITERAL',
    };
    const created = kafkaPython<{ succeeded: object[]; failed: unknown[] }>({
      op: 'create_acls',
      acls: [aliceRead],
    });
    expect(created).toEqual({ succeeded: [aliceRead], failed: [] });

    await platformatic.createAcls({
      creations: [
        {
          resourceType: ResourceTypes.GROUP,
          resourceName: 'acl-',
          resourcePatternType: ResourcePatternTypes.PREFIXED,
          principal: 'User:bob',
          host: '*',
          operation: AclOperations.DESCRIBE,
          permissionType: AclPermissionTypes.DENY,
        },
      ],
    });

    const platformaticDescribed = await eventually(
      () =>
        platformatic.describeAcls({
          filter: {
            resourceType: ResourceTypes.ANY,
            resourceName: null,
            resourcePatternType: ResourcePatternTypes.ANY,
            principal: null,
            host: null,
            operation: AclOperations.ANY,
            permissionType: AclPermissionTypes.ANY,
          },
        }),
      (resources) => resources.flatMap((resource) => resource.acls).length === 2,
    );
    expect(
      platformaticDescribed
        .flatMap((resource) =>
          resource.acls.map(
            (acl) =>
              `${resource.resourceType}:${resource.resourcePatternType}:${resource.resourceName} ` +
              `${acl.principal}@${acl.host} ${acl.operation}:${acl.permissionType}`,
          ),
        )
        .sort(),
    ).toEqual([
      `${ResourceTypes.TOPIC}:${ResourcePatternTypes.LITERAL}:acl-orders User:alice@* ${AclOperations.READ}:${AclPermissionTypes.ALLOW}`,
      `${ResourceTypes.GROUP}:${ResourcePatternTypes.PREFIXED}:acl- User:bob@* ${AclOperations.DESCRIBE}:${AclPermissionTypes.DENY}`,
    ]);

    const bobDeny = {
      principal: 'User:bob',
      host: '*',
      operation: 'DESCRIBE',
      permission: 'DENY',
      resource_type: 'GROUP',
      name: 'acl-',
      pattern: 'PREFIXED',
    };
    // MATCH finds the prefixed ACL that covers a group named acl-payments.
    const pythonDescribed = await eventually(
      () =>
        kafkaPython<{ acls: object[]; error: number }>({
          op: 'describe_acls',
          filter: { ...bobDeny, name: 'acl-payments', pattern: 'MATCH', principal: null, host: null },
        }),
      (answer) => answer.acls.length > 0,
    );
    expect(pythonDescribed).toEqual({ acls: [bobDeny], error: 0 });

    const kafkajsDescribed = await eventually(
      () =>
        kafkajsAdmin.describeAcls({
          resourceType: AclResourceTypes.TOPIC,
          resourcePatternType: KafkajsPatternTypes.ANY,
          operation: AclOperationTypes.ANY,
          permissionType: KafkajsAclPermissionTypes.ANY,
        }),
      (answer) => answer.resources.length > 0,
    );
    expect(kafkajsDescribed.resources).toEqual([
      {
        resourceType: AclResourceTypes.TOPIC,
        resourceName: 'acl-orders',
        resourcePatternType: KafkajsPatternTypes.LITERAL,
        acls: [
          {
            principal: 'User:alice',
            host: '*',
            operation: AclOperationTypes.READ,
            permissionType: KafkajsAclPermissionTypes.ALLOW,
          },
        ],
      },
    ]);

    // kafka-python deletes what @platformatic/kafka created, @platformatic/kafka what kafka-python did.
    const pythonDeleted = kafkaPython<{ results: { error: number; deleted: [object, number][] }[] }>({
      op: 'delete_acls',
      filters: [{ ...bobDeny, name: null, pattern: 'ANY', host: null }],
    });
    expect(pythonDeleted.results).toEqual([{ error: 0, deleted: [[bobDeny, 0]] }]);
    const platformaticDeleted = await platformatic.deleteAcls({
      filters: [
        {
          resourceType: ResourceTypes.TOPIC,
          resourceName: 'acl-orders',
          resourcePatternType: ResourcePatternTypes.LITERAL,
          principal: null,
          host: null,
          operation: AclOperations.ANY,
          permissionType: AclPermissionTypes.ANY,
        },
      ],
    });
    expect(platformaticDeleted).toMatchObject([
      { resourceName: 'acl-orders', principal: 'User:alice', operation: AclOperations.READ },
    ]);

    const none = await eventually(
      () =>
        kafkajsAdmin.describeAcls({
          resourceType: AclResourceTypes.ANY,
          resourcePatternType: KafkajsPatternTypes.ANY,
          operation: AclOperationTypes.ANY,
          permissionType: KafkajsAclPermissionTypes.ANY,
        }),
      (answer) => answer.resources.length === 0,
    );
    expect(none.resources).toEqual([]);
  });

  it('@platformatic/kafka alters a topic config incrementally and lists its log dirs', async () => {
    await platformatic.incrementalAlterConfigs({
      resources: [
        {
          resourceType: ConfigResourceTypes.TOPIC,
          resourceName: topic,
          configs: [
            { name: 'retention.ms', configOperation: 0, value: '7200000' },
            { name: 'cleanup.policy', configOperation: 2, value: 'compact' },
          ],
        },
      ],
    });
    const altered = {
      'retention.ms': ['7200000', false],
      'cleanup.policy': ['delete,compact', false],
    };
    const configs = await eventually(
      () => kafkajsTopicConfigs(['retention.ms', 'cleanup.policy']),
      deepEqualTo(altered),
    );
    expect(configs).toEqual(altered);

    const logDirs = await platformatic.describeLogDirs({
      topics: [{ name: topic, partitions: [0, 1, 2] }],
    });
    expect(logDirs.map((broker) => broker.broker).sort()).toEqual([1, 2, 3]);
    for (const broker of logDirs) {
      const partitions = broker.results.flatMap((dir) =>
        dir.topics.filter((entry) => entry.name === topic).flatMap((entry) => entry.partitions),
      );
      expect(partitions.map((partition) => partition.partitionIndex).sort()).toEqual([0, 1, 2]);
      for (const partition of partitions) expect(Number(partition.partitionSize)).toBeGreaterThan(0);
    }
  });

  it('@platformatic/kafka reads config types, synonyms and documentation of a topic and a broker (DescribeConfigs v3, v4)', async () => {
    const connection = new Connection('platformatic-describe-configs');
    await connection.connect('127.0.0.1', cluster.node(2).kafkaPort);
    try {
      // configuration_keys null: every config of the resource. v3's typings want an array; its codec
      // writes null as the null array all the same.
      const resources: describeConfigsV4.DescribeConfigsRequestResource[] = [
        { resourceType: PlatformaticConfigResourceTypes.TOPIC, resourceName: topic, configurationKeys: null },
        {
          resourceType: PlatformaticConfigResourceTypes.BROKER,
          resourceName: '2',
          configurationKeys: Object.keys(kafkaBrokerConfigTypes),
        },
      ];
      const v4 = await describeConfigsV4.api.async(connection, resources, true, true);
      const v3 = await describeConfigsV3.api.async(
        connection,
        resources as describeConfigsV3.DescribeConfigsRequestResource[],
        false,
        false,
      );
      for (const response of [v4, v3]) {
        const [topicResult, brokerResult] = response.results;
        expect(topicResult).toMatchObject({
          errorCode: 0,
          resourceType: PlatformaticConfigResourceTypes.TOPIC,
          resourceName: topic,
        });
        expect(brokerResult).toMatchObject({
          errorCode: 0,
          resourceType: PlatformaticConfigResourceTypes.BROKER,
          resourceName: '2',
        });
        // Every config with the type Kafka's ConfigDef gives it, documented or not.
        const types = (configs: { name: string; configType: number }[]) =>
          Object.fromEntries(configs.map((config) => [config.name, config.configType]));
        expect(types(topicResult!.configs)).toEqual(kafkaTopicConfigTypes);
        expect(types(brokerResult!.configs)).toEqual(kafkaBrokerConfigTypes);
      }
      // Without include_synonyms and include_documentation (v3): neither.
      for (const config of [...v3.results[0]!.configs, ...v3.results[1]!.configs]) {
        expect([config.name, config.synonyms, config.documentation]).toEqual([config.name, [], null]);
      }
      // With them (v4): each config documented, its synonyms most specific first, the first the
      // effective value and source.
      const [topicConfigs, brokerConfigs] = v4.results.map(
        (result) => new Map(result.configs.map((config) => [config.name, config])),
      );
      for (const config of [...topicConfigs!.values(), ...brokerConfigs!.values()]) {
        expect(config.documentation?.length ?? 0, config.name).toBeGreaterThan(20);
        expect(config.synonyms[0], config.name).toEqual({
          name: expect.any(String),
          value: config.value,
          source: config.configSource,
        });
      }
      expect(topicConfigs!.get('segment.bytes')).toMatchObject({
        value: '1073741824',
        readOnly: false,
        configSource: ConfigSources.DEFAULT_CONFIG,
        isSensitive: false,
        synonyms: [{ name: 'log.segment.bytes', value: '1073741824', source: ConfigSources.DEFAULT_CONFIG }],
        documentation: 'Segment file size at which a new segment is rolled.',
      });
      expect(topicConfigs!.get('unclean.leader.election.enable')).toMatchObject({
        value: 'false',
        synonyms: [
          { name: 'unclean.leader.election.enable', value: 'false', source: ConfigSources.DEFAULT_CONFIG },
        ],
        documentation:
          'Indicates whether to enable replicas not in the ISR set to be elected as leader as a last resort, ' +
          'even though doing so may result in data loss.',
      });
      expect(brokerConfigs!.get('node.id')).toMatchObject({
        value: '2',
        readOnly: true,
        configSource: ConfigSources.STATIC_BROKER_CONFIG,
        synonyms: [{ name: 'node.id', value: '2', source: ConfigSources.STATIC_BROKER_CONFIG }],
        documentation: 'This node id, unique in the cluster.',
      });
      // A dynamic broker config is not read-only; offsets.topic.replication.factor is a SHORT.
      expect(brokerConfigs!.get('log.retention.ms')).toMatchObject({
        value: '604800000',
        readOnly: false,
        configSource: ConfigSources.DEFAULT_CONFIG,
      });
      expect(brokerConfigs!.get('offsets.topic.replication.factor')).toMatchObject({
        value: '3',
        readOnly: true,
        configSource: ConfigSources.STATIC_BROKER_CONFIG,
      });
    } finally {
      await connection.close();
    }
  });

  it(`librdkafka ${currentLibrdkafkaVersion}'s C admin API: cluster, leaders, configs, group offsets, SCRAM users`, async () => {
    const answers = librdkafka([
      { op: 'describe_cluster' },
      {
        op: 'elect_leaders',
        partitions: [
          [topic, 0],
          [topic, 1],
          [topic, 2],
          ['admin-no-such-topic', 0],
        ],
      },
      {
        op: 'incremental_alter_configs',
        topic,
        ops: [
          ['retention.ms', 'DELETE', null],
          ['cleanup.policy', 'SUBTRACT', 'compact'],
          ['max.message.bytes', 'SET', '65536'],
        ],
      },
      { op: 'delete_group_offsets', group: emptyGroups.offsets, partitions: [[topic, 1]] },
      { op: 'delete_group_offsets', group: heldGroup, partitions: [[topic, 1]] },
      {
        op: 'upsert_scram',
        user: 'carol',
        mechanism: 'SCRAM-SHA-512',
        iterations: 8192,
        password: 'c-secret',
      },
    ]);
    expect(answers).toEqual([
      { nodes: [1, 2, 3], controller: expect.any(Number), cluster_id: expect.any(String) },
      {
        partitions: [
          ['admin-clients', 0, electionNotNeeded],
          ['admin-clients', 1, electionNotNeeded],
          ['admin-clients', 2, electionNotNeeded],
          ['admin-no-such-topic', 0, unknownTopicOrPartition],
        ],
      },
      { error: 0 },
      { error: 0, partitions: [[topic, 1, 0]] },
      { error: 0, partitions: [[topic, 1, groupSubscribedToTopic]] },
      { error: 0 },
    ]);
    const [clusterAnswer] = answers as { controller: number; cluster_id: string }[];
    expect([1, 2, 3]).toContain(clusterAnswer?.controller);
    expect(clusterAnswer?.cluster_id.length).toBeGreaterThan(0);

    const carolAdded = {
      error: 0,
      users: {
        carol: { error: 0, credentials: [['SCRAM-SHA-512', 8192]] },
        nobody: { error: resourceNotFound, credentials: [] },
      },
    };
    const described = await eventually(
      () => librdkafka([{ op: 'describe_scram', users: ['carol', 'nobody'] }])[0],
      deepEqualTo(carolAdded),
    );
    expect(described).toEqual(carolAdded);
    expect(librdkafka([{ op: 'delete_scram', user: 'carol', mechanism: 'SCRAM-SHA-512' }])).toEqual([
      { error: 0 },
    ]);
    const carolGone = { error: 0, users: { carol: { error: resourceNotFound, credentials: [] } } };
    const describedAfter = await eventually(
      () => librdkafka([{ op: 'describe_scram', users: ['carol'] }])[0],
      deepEqualTo(carolGone),
    );
    expect(describedAfter).toEqual(carolGone);

    const altered = {
      'retention.ms': ['604800000', true],
      'cleanup.policy': ['delete', false],
      'max.message.bytes': ['65536', false],
    };
    const configs = await eventually(
      () => kafkajsTopicConfigs(['retention.ms', 'cleanup.policy', 'max.message.bytes']),
      deepEqualTo(altered),
    );
    expect(configs).toEqual(altered);
    const offsets = await kafkajsAdmin.fetchOffsets({ groupId: emptyGroups.offsets, topics: [topic] });
    expect(
      offsets[0]?.partitions
        .slice()
        .sort((a, b) => a.partition - b.partition)
        .map((entry) => [entry.partition, entry.offset]),
    ).toEqual([
      [0, '-1'],
      [1, '-1'],
      [2, '1'],
    ]);
  });

  it("@platformatic/kafka and librdkafka see the same cluster and each other's SCRAM users (DescribeCluster, Describe/AlterUserScramCredentials)", async () => {
    // DescribeCluster: @platformatic/kafka's v1 codec and librdkafka's C API against the processes.
    const [rdkCluster] = librdkafka([{ op: 'describe_cluster' }]) as {
      nodes: number[];
      controller: number;
      cluster_id: string;
    }[];
    const described = await withPlatformatic('describe-cluster', (connection) =>
      describeClusterV1.api.async(connection, true, brokersEndpointType),
    );
    expect(described).toMatchObject({
      errorCode: 0,
      endpointType: brokersEndpointType,
      clusterId: rdkCluster!.cluster_id,
      controllerId: rdkCluster!.controller,
    });
    expect(described.brokers.map((broker) => [broker.brokerId, broker.host, broker.port])).toEqual(
      cluster.nodes.map((node) => [node.id, '127.0.0.1', node.kafkaPort]),
    );
    expect(rdkCluster!.nodes).toEqual(cluster.nodes.map((node) => node.id));
    expect([1, 2, 3]).toContain(described.controllerId);
    // ANONYMOUS is a super user: every cluster operation is authorized (Kafka's bit set, 1 << op).
    for (const operation of [AclOperations.ALTER, AclOperations.DESCRIBE, AclOperations.CLUSTER_ACTION]) {
      expect(described.clusterAuthorizedOperations & (1 << operation)).not.toBe(0);
    }

    // AlterUserScramCredentials from @platformatic/kafka (salt and salted password computed here,
    // RFC 5802), described by librdkafka; librdkafka's user described by @platformatic/kafka.
    const salt = Buffer.from('platformatic-salt');
    const upserted = await withPlatformatic('scram-upsert', (connection) =>
      alterUserScramCredentialsV0.api.async(
        connection,
        [],
        [
          {
            name: 'dave',
            mechanism: scramSha256,
            iterations: 4096,
            salt,
            saltedPassword: pbkdf2Sync('d-secret', salt, 4096, 32, 'sha256'),
          },
        ],
      ),
    );
    expect(upserted.results).toEqual([{ user: 'dave', errorCode: 0, errorMessage: null }]);
    const daveSeen = {
      error: 0,
      users: { dave: { error: 0, credentials: [['SCRAM-SHA-256', 4096]] } },
    };
    expect(
      await eventually(
        () => librdkafka([{ op: 'describe_scram', users: ['dave'] }])[0],
        deepEqualTo(daveSeen),
      ),
    ).toEqual(daveSeen);
    expect(
      librdkafka([
        {
          op: 'upsert_scram',
          user: 'erin',
          mechanism: 'SCRAM-SHA-512',
          iterations: 8192,
          password: 'e-secret',
        },
      ]),
    ).toEqual([{ error: 0 }]);
    const platformaticView = () =>
      withPlatformatic('scram-describe', (connection) =>
        describeUserScramCredentialsV0.api
          .async(connection, [{ name: 'dave' }, { name: 'erin' }, { name: 'nobody' }])
          .catch(
            (error: { response?: unknown }) =>
              error.response as describeUserScramCredentialsV0.DescribeUserScramCredentialsResponse,
          ),
      ).then((response) =>
        response.results.map((result) => [
          result.user,
          result.errorCode,
          result.credentialInfos.map((info) => [info.mechanism, info.iterations]),
        ]),
      );
    const bothSeen = [
      ['dave', 0, [[scramSha256, 4096]]],
      ['erin', 0, [[scramSha512, 8192]]],
      ['nobody', resourceNotFound, []],
    ];
    expect(await eventually(platformaticView, deepEqualTo(bothSeen))).toEqual(bothSeen);

    // A deletion by one client is what the other sees; deleting a mechanism the user lacks is
    // RESOURCE_NOT_FOUND, as on Kafka.
    const deleted = await withPlatformatic('scram-delete', (connection) =>
      alterUserScramCredentialsV0.api
        .async(
          connection,
          [
            { name: 'erin', mechanism: scramSha512 },
            { name: 'dave', mechanism: scramSha512 },
          ],
          [],
        )
        .catch(
          (error: { response?: unknown }) =>
            error.response as alterUserScramCredentialsV0.AlterUserScramCredentialsResponse,
        ),
    );
    expect(deleted.results.map((result) => [result.user, result.errorCode])).toEqual([
      ['erin', 0],
      ['dave', resourceNotFound],
    ]);
    const erinGone = {
      error: 0,
      users: {
        dave: { error: 0, credentials: [['SCRAM-SHA-256', 4096]] },
        erin: { error: resourceNotFound, credentials: [] },
      },
    };
    expect(
      await eventually(
        () => librdkafka([{ op: 'describe_scram', users: ['dave', 'erin'] }])[0],
        deepEqualTo(erinGone),
      ),
    ).toEqual(erinGone);
    expect(librdkafka([{ op: 'delete_scram', user: 'dave', mechanism: 'SCRAM-SHA-256' }])).toEqual([
      { error: 0 },
    ]);
  });

  it('@platformatic/kafka and librdkafka delete records; kafkajs sees the new log start offsets', async () => {
    const recordsTopic = 'admin-records';
    await kafkajsAdmin.createTopics({
      topics: [{ topic: recordsTopic, numPartitions: 3, replicationFactor: 3 }],
      waitForLeaders: true,
    });
    // Idempotent, so that a send retried after its append (a retriable error from a leader whose
    // lease lapsed on a loaded machine) leaves no second copy: the offsets below are exact.
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    await producer.send({
      topic: recordsTopic,
      acks: -1,
      messages: [0, 1, 2].flatMap((partition) =>
        [0, 1, 2, 3].map((index) => ({ partition, value: `p${partition}-${index}` })),
      ),
    });
    await producer.disconnect();

    const platformaticDeleted = await platformatic.deleteRecords({
      topics: [{ name: recordsTopic, partitions: [{ partition: 0, offset: 1n }] }],
    });
    expect(platformaticDeleted).toEqual([
      { name: recordsTopic, partitions: [{ partition: 0, lowWatermark: 1n }] },
    ]);
    // Offset -1 is the high watermark; past it is OFFSET_OUT_OF_RANGE, low watermark -1 (as Kafka).
    expect(
      librdkafka([
        {
          op: 'delete_records',
          partitions: [
            [recordsTopic, 1, -1],
            [recordsTopic, 2, 9],
          ],
        },
      ]),
    ).toEqual([
      {
        partitions: [
          [recordsTopic, 1, 4, 0],
          [recordsTopic, 2, -1, offsetOutOfRange],
        ],
      },
    ]);
    const offsets = await kafkajsAdmin.fetchTopicOffsets(recordsTopic);
    expect(
      offsets
        .slice()
        .sort((a, b) => a.partition - b.partition)
        .map((entry) => [entry.partition, entry.low, entry.high]),
    ).toEqual([
      [0, '1', '4'],
      [1, '4', '4'],
      [2, '0', '4'],
    ]);
  });
});

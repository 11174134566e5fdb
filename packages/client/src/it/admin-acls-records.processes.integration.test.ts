// The client's admin ACL calls (createAcls, describeAcls, deleteAcls) and deleteTopicRecords against
// a real Gregor broker process with Kafka's StandardAuthorizer keys, each checked by an independent
// client: kafkajs's admin sees the bindings the client created and no longer sees those it deleted,
// and kafkajs's fetchTopicOffsets sees the log start the client moved.

import { Kafka as KafkaJs, logLevel as kafkajsLogLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AclEntry,
  AclOperationTypes,
  AclPermissionTypes,
  AclResourceTypes,
  ResourcePatternTypes,
} from '../admin/acls.js';
import type { Admin } from '../admin.js';
import { KafkaJSDeleteTopicRecordsError } from '../errors.js';
import { Kafka } from '../kafka.js';
import { logLevel } from '../logger.js';
import { BrokerProcesses } from '../testing/broker-processes.js';

let brokers: BrokerProcesses;
let admin: Admin;
let kafkajs: KafkaJs;

beforeAll(async () => {
  brokers = await BrokerProcesses.start(1, {
    properties: {
      'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
      // The PLAINTEXT listener's clients are User:ANONYMOUS: the test's admin.
      'super.users': 'User:ANONYMOUS',
      'offsets.topic.num.partitions': '1',
    },
  });
  const kafka = new Kafka({
    clientId: 'admin-it',
    brokers: brokers.bootstrapServers,
    logLevel: logLevel.NOTHING,
  });
  admin = kafka.admin();
  await admin.connect();
  kafkajs = new KafkaJs({
    clientId: 'admin-it-kafkajs',
    brokers: brokers.bootstrapServers,
    logLevel: kafkajsLogLevel.NOTHING,
  });
}, 120_000);

afterAll(async () => {
  await admin?.disconnect();
  await brokers?.stop();
});

describe('admin ACLs', () => {
  const binding: AclEntry = {
    resourceType: AclResourceTypes.TOPIC,
    resourceName: 'payments',
    resourcePatternType: ResourcePatternTypes.PREFIXED,
    principal: 'User:alice',
    host: '*',
    operation: AclOperationTypes.READ,
    permissionType: AclPermissionTypes.ALLOW,
  };
  const filter = {
    resourceType: AclResourceTypes.TOPIC,
    resourcePatternType: ResourcePatternTypes.ANY,
    operation: AclOperationTypes.ANY,
    permissionType: AclPermissionTypes.ANY,
  };

  it('creates, describes and deletes bindings that kafkajs sees the same way', async () => {
    expect(await admin.createAcls({ acl: [binding] })).toBe(true);
    const described = await admin.describeAcls(filter);
    expect(described.resources).toEqual([
      {
        resourceType: AclResourceTypes.TOPIC,
        resourceName: 'payments',
        resourcePatternType: ResourcePatternTypes.PREFIXED,
        acls: [
          {
            principal: 'User:alice',
            host: '*',
            operation: AclOperationTypes.READ,
            permissionType: AclPermissionTypes.ALLOW,
          },
        ],
      },
    ]);
    const other = kafkajs.admin();
    await other.connect();
    try {
      const seen = await other.describeAcls(filter);
      expect(seen.resources.map((resource) => resource.resourceName)).toEqual(['payments']);
      const deleted = await admin.deleteAcls({ filters: [{ ...filter, principal: 'User:alice' }] });
      expect(deleted.filterResponses[0]!.matchingAcls).toMatchObject([
        {
          resourceName: 'payments',
          principal: 'User:alice',
          operation: AclOperationTypes.READ,
          errorCode: 0,
        },
      ]);
      expect((await other.describeAcls(filter)).resources).toEqual([]);
    } finally {
      await other.disconnect();
    }
  });
});

describe('admin deleteTopicRecords', () => {
  it('moves the log start to an offset, then to the high watermark, and reports an offset past it', async () => {
    const topic = 'records-to-delete';
    await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }] });
    const kafka = new Kafka({
      clientId: 'admin-it-producer',
      brokers: brokers.bootstrapServers,
      logLevel: logLevel.NOTHING,
    });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic,
      acks: -1,
      messages: Array.from({ length: 10 }, (_, index) => ({ value: `record-${index}` })),
    });
    await producer.disconnect();

    const other = kafkajs.admin();
    await other.connect();
    try {
      await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: '4' }] });
      expect(await other.fetchTopicOffsets(topic)).toMatchObject([{ partition: 0, low: '4', high: '10' }]);
      await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: '-1' }] });
      expect(await other.fetchTopicOffsets(topic)).toMatchObject([{ partition: 0, low: '10', high: '10' }]);
    } finally {
      await other.disconnect();
    }
    const pastEnd = await admin
      .deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: '100' }] })
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(pastEnd).toBeInstanceOf(KafkaJSDeleteTopicRecordsError);
    expect((pastEnd as KafkaJSDeleteTopicRecordsError).partitions).toMatchObject([
      { partition: 0, offset: '100', error: { type: 'OFFSET_OUT_OF_RANGE' } },
    ]);
  });
});

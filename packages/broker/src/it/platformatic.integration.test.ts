// @platformatic/kafka 1.x against one Gregor broker process. The client speaks the newest version
// both sides know, so this drives Produce v11, ListOffsets v9 (with MAX_TIMESTAMP), the group APIs
// at Kafka 4.1's versions (JoinGroup v9, SyncGroup v5, OffsetCommit v9, OffsetFetch v9, LeaveGroup
// v5, ListGroups v5) and CreatePartitions v3 through a real client's own encoders and decoders.

import {
  Admin,
  Consumer,
  MessagesStreamModes,
  Producer,
  stringDeserializers,
  stringSerializers,
} from '@platformatic/kafka';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessCluster } from '../testing/process-cluster.js';

let cluster: ProcessCluster;
let bootstrap: string;

beforeAll(async () => {
  cluster = await ProcessCluster.start({ nodeCount: 1 });
  bootstrap = `127.0.0.1:${cluster.node(1).kafkaPort}`;
});

afterAll(async () => {
  await cluster.close();
});

describe('@platformatic/kafka', () => {
  it('produces, consumes in a group that commits, lists offsets, lists the group and adds partitions', async () => {
    const admin = new Admin({ clientId: 'pk-admin', bootstrapBrokers: [bootstrap] });
    const producer = new Producer({
      clientId: 'pk-producer',
      bootstrapBrokers: [bootstrap],
      serializers: stringSerializers,
    });
    const consumer = new Consumer({
      groupId: 'pk-group',
      clientId: 'pk-consumer',
      bootstrapBrokers: [bootstrap],
      deserializers: stringDeserializers,
    });
    try {
      await admin.createTopics({ topics: ['pk'], partitions: 1, replicas: 1 });
      const base = 1_700_000_000_000n;
      await producer.send({
        messages: [
          { topic: 'pk', partition: 0, key: 'a', value: 'a', timestamp: base + 5n },
          { topic: 'pk', partition: 0, key: 'b', value: 'b', timestamp: base + 9n },
          { topic: 'pk', partition: 0, key: 'c', value: 'c', timestamp: base + 7n },
        ],
      });

      const latest = await consumer.listOffsetsWithTimestamps({ topics: ['pk'], timestamp: -3n });
      expect(latest.get('pk')?.get(0)).toEqual({ offset: 1n, timestamp: base + 9n });

      const stream = await consumer.consume({
        topics: ['pk'],
        mode: MessagesStreamModes.EARLIEST,
        autocommit: false,
        sessionTimeout: 10_000,
        heartbeatInterval: 500,
        maxWaitTime: 200,
      });
      const values: string[] = [];
      for await (const message of stream) {
        values.push(message.value);
        await message.commit();
        if (values.length === 3) break;
      }
      expect(values).toEqual(['a', 'b', 'c']);

      const groups = await admin.listGroups({ types: ['classic'] });
      expect(groups.get('pk-group')).toMatchObject({
        id: 'pk-group',
        groupType: 'classic',
        protocolType: 'consumer',
      });
      const described = await admin.describeGroups({ groups: ['pk-group'] });
      expect(described.get('pk-group')?.members.size).toBe(1);

      await admin.createPartitions({ topics: [{ name: 'pk', count: 3 }] });
      const topics = await admin.metadata({ topics: ['pk'], forceUpdate: true });
      expect(topics.topics.get('pk')?.partitionsCount).toBe(3);
    } finally {
      await consumer.close(true);
      await producer.close();
      await admin.close();
    }
  });
});

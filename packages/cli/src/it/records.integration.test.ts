// `gregor get-offsets`, `gregor delete-records` and `gregor groups --delete-offsets` against a real
// Gregor node in the test process (@gregor/testkit), checked with kafkajs: the log start offset the
// CLI deletes to is what kafkajs reads as the low watermark; a group's deleted offsets are gone for
// kafkajs too, and offsets of a topic a member consumes are refused.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCluster, type TestCluster } from '@gregor/testkit';
import { type Consumer, Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runVerb } from '../testing/run-cli.js';

let cluster: TestCluster;
let kafka: Kafka;
let dir: string;

beforeAll(async () => {
  cluster = await startCluster({ brokers: 1, properties: { 'group.initial.rebalance.delay.ms': '0' } });
  kafka = new Kafka({
    clientId: 'cli-records',
    brokers: cluster.bootstrapServers,
    logLevel: logLevel.NOTHING,
  });
  dir = mkdtempSync(join(tmpdir(), 'gregor-cli-records-'));
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'events', numPartitions: 2 }, { topic: 'other' }] });
  await admin.disconnect();
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  for (let i = 0; i < 10; i++)
    await producer.send({ topic: 'events', messages: [{ value: `a${i}`, partition: 0 }] });
  for (let i = 0; i < 4; i++)
    await producer.send({ topic: 'events', messages: [{ value: `b${i}`, partition: 1 }] });
  await producer.disconnect();
});

afterAll(async () => {
  await cluster?.stop();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

const gregor = (verb: string, ...args: string[]) => runVerb(verb, cluster.bootstrapServers[0]!, args);

describe('gregor get-offsets and delete-records', () => {
  it('deletes records below the offsets of a kafka-delete-records.sh file; earliest offsets then start there', async () => {
    expect(await gregor('get-offsets', '--topic', 'events')).toEqual({
      code: 0,
      out: 'events:0:10\nevents:1:4\n',
      err: '',
    });
    const file = join(dir, 'offsets.json');
    writeFileSync(
      file,
      JSON.stringify({
        partitions: [
          { topic: 'events', partition: 0, offset: 6 },
          { topic: 'events', partition: 1, offset: -1 },
        ],
        version: 1,
      }),
    );
    expect(await gregor('delete-records', '--offset-json-file', file)).toEqual({
      code: 0,
      out:
        'Executing records delete operation\nRecords delete operation completed:\n' +
        'partition: events-0\tlow_watermark: 6\npartition: events-1\tlow_watermark: 4\n',
      err: '',
    });
    expect((await gregor('get-offsets', '--topic', 'events', '--time', '-2')).out).toBe(
      'events:0:6\nevents:1:4\n',
    );
    expect(
      (await gregor('get-offsets', '--topic', 'events', '--time', 'earliest', '--partitions', '0')).out,
    ).toBe('events:0:6\n');
    const admin = kafka.admin();
    await admin.connect();
    const offsets = await admin.fetchTopicOffsets('events');
    await admin.disconnect();
    expect(offsets.sort((a, b) => a.partition - b.partition).map(({ low, high }) => ({ low, high }))).toEqual(
      [
        { low: '6', high: '10' },
        { low: '4', high: '4' },
      ],
    );

    writeFileSync(
      file,
      JSON.stringify({ partitions: [{ topic: 'events', partition: 0, offset: 11 }], version: 1 }),
    );
    const beyond = await gregor('delete-records', '--offset-json-file', file);
    expect(beyond.code).toBe(1);
    expect(beyond.out).toContain('partition: events-0\terror: OFFSET_OUT_OF_RANGE\n');
  });
});

describe('gregor groups --delete-offsets', () => {
  it("deletes a group's committed offsets, and refuses those of a topic a member consumes", async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.setOffsets({ groupId: 'idle', topic: 'events', partitions: [{ partition: 0, offset: '7' }] });
    await admin.setOffsets({ groupId: 'idle', topic: 'other', partitions: [{ partition: 0, offset: '0' }] });
    expect(await gregor('groups', '--delete-offsets', '--group', 'idle', '--topic', 'events')).toEqual({
      code: 0,
      out:
        'Request succeed for deleting offsets with topic events group idle\n\n' +
        'TOPIC  PARTITION STATUS\nevents 0         Successful\nevents 1         Successful\n',
      err: '',
    });
    const left = await admin.fetchOffsets({ groupId: 'idle', topics: ['events', 'other'] });
    expect(
      left.map(({ topic, partitions }) => ({ topic, offsets: partitions.map((p) => p.offset).sort() })),
    ).toEqual([
      { topic: 'events', offsets: ['-1', '-1'] },
      { topic: 'other', offsets: ['0'] },
    ]);

    let consumer: Consumer | undefined;
    try {
      consumer = kafka.consumer({ groupId: 'busy' });
      await consumer.connect();
      await consumer.subscribe({ topic: 'events', fromBeginning: true });
      let consumedOne: () => void = () => undefined;
      const consuming = new Promise<void>((resolve) => {
        consumedOne = resolve;
      });
      await consumer.run({
        eachMessage: async () => {
          consumedOne();
        },
      });
      // Consuming means the member joined and holds its assignment: the group is Stable.
      await consuming;
      const refused = await gregor('groups', '--delete-offsets', '--group', 'busy', '--topic', 'events:0');
      expect(refused.code).toBe(1);
      expect(refused.err).toBe('Error: Encounter some partition level error, see the follow-up details:\n');
      expect(refused.out).toContain('Error: GROUP_SUBSCRIBED_TO_TOPIC');
    } finally {
      await consumer?.disconnect();
    }
    expect((await gregor('groups', '--delete-offsets', '--group', 'nobody', '--topic', 'events')).err).toBe(
      "Error: 'nobody' does not exist.\n",
    );
    await admin.disconnect();
  });
});

// The consumer's fetch sessions (KIP-227) against three Gregor broker processes: a group consumer of
// 24 partitions fetches each leader in full once, then incrementally (quiet rounds name no
// partition), and keeps reading everything through a kill -9 of a partition leader (its partitions
// move to the survivors' sessions). What each Fetch carried is read from the consumer's debug log.

import { waitFor } from '@gregor/ground/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Kafka } from '../kafka.js';
import { logLevel } from '../logger.js';
import { BrokerProcesses } from '../testing/broker-processes.js';

const topic = 'many';
const partitionCount = 24;
const groupId = 'sessions-it';

interface FetchLogged {
  readonly leader: number;
  readonly sessionId: number;
  readonly sessionEpoch: number;
  readonly full: boolean;
  readonly partitions: number;
  readonly forgotten: number;
}

let brokers: BrokerProcesses;

beforeAll(async () => {
  brokers = await BrokerProcesses.start(3, {
    properties: { 'broker.session.timeout.ms': '3000', 'broker.heartbeat.interval.ms': '500' },
  });
});
afterAll(() => brokers?.stop());

/** Kafka's coordinator partition for a group: abs(groupId.hashCode()) % partitions. */
function coordinatorPartition(group: string, partitions: number): number {
  let hash = 0;
  for (const char of group) hash = (Math.imul(31, hash) + char.charCodeAt(0)) | 0;
  return (hash === -2147483648 ? 0 : Math.abs(hash)) % partitions;
}

it('fetches in full once per leader, then only what changed, through a leader move', async () => {
  const fetches: FetchLogged[] = [];
  const kafka = new Kafka({
    clientId: 'fetch-sessions-it',
    brokers: brokers.bootstrapServers,
    logLevel: logLevel.DEBUG,
    logCreator: () => (entry) => {
      if (entry.log.message === 'fetch') fetches.push(entry.log as unknown as FetchLogged);
    },
    retry: { initialRetryTime: 100, retries: 10 },
  });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: partitionCount, replicationFactor: 3 }] });

  const producer = kafka.producer({ lingerMs: 2 });
  await producer.connect();
  const send = async (round: string) => {
    for (let partition = 0; partition < partitionCount; partition++) {
      await producer.send({
        topic,
        messages: [0, 1].map((index) => ({ partition, value: `${round}-${partition}-${index}` })),
      });
    }
  };
  await send('before');

  const consumed = new Set<string>();
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 200 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      consumed.add(message.value!.toString());
    },
  });
  try {
    await waitFor('every record before the move', () => consumed.size === partitionCount * 2 || undefined, {
      timeoutMs: 60_000,
    });
    // Quiet rounds: incremental fetches that name no partition.
    await waitFor(
      'quiet incremental fetches',
      () => fetches.filter((fetch) => !fetch.full && fetch.partitions === 0).length >= 6 || undefined,
      { timeoutMs: 30_000 },
    );
    const leaders = new Map(
      (await admin.fetchTopicMetadata({ topics: [topic] })).topics[0]!.partitions.map((partition) => [
        partition.partitionId,
        partition.leader,
      ]),
    );
    // Each leader's first fetch was full and named the partitions it leads; later ones were
    // incremental in the session the broker gave.
    for (const leader of new Set(leaders.values())) {
      const toLeader = fetches.filter((fetch) => fetch.leader === leader);
      expect(toLeader[0]).toMatchObject({ sessionId: 0, sessionEpoch: 0, full: true });
      expect(toLeader[0]!.partitions).toBe([...leaders.values()].filter((id) => id === leader).length);
      const incremental = toLeader.filter((fetch) => !fetch.full);
      expect(incremental.length).toBeGreaterThan(0);
      expect(incremental.every((fetch) => fetch.sessionId !== 0 && fetch.sessionEpoch > 0)).toBe(true);
    }

    // Kill -9 a leader that is not the group's coordinator: its partitions move to the others.
    const offsets = (await admin.fetchTopicMetadata({ topics: ['__consumer_offsets'] })).topics[0]!
      .partitions;
    const coordinator = offsets.find(
      (partition) => partition.partitionId === coordinatorPartition(groupId, offsets.length),
    )!.leader;
    const victim = [...new Set(leaders.values())].find((leader) => leader !== coordinator)!;
    const beforeKill = fetches.length;
    await brokers.kill(victim);
    await send('after');
    await waitFor('every record after the move', () => consumed.size === partitionCount * 4 || undefined, {
      timeoutMs: 90_000,
    });
    const afterKill = fetches.slice(beforeKill).filter((fetch) => fetch.leader !== victim);
    // The survivors' sessions took the moved partitions in: fetches to them stayed incremental.
    expect(afterKill.some((fetch) => !fetch.full && fetch.sessionId !== 0 && fetch.partitions > 0)).toBe(
      true,
    );
    const moved = (await admin.fetchTopicMetadata({ topics: [topic] })).topics[0]!.partitions;
    expect(moved.every((partition) => partition.leader !== victim)).toBe(true);
    for (let partition = 0; partition < partitionCount; partition++) {
      for (const round of ['before', 'after']) {
        expect(consumed.has(`${round}-${partition}-0`) && consumed.has(`${round}-${partition}-1`)).toBe(true);
      }
    }
  } finally {
    await consumer.disconnect();
    await producer.disconnect();
    await admin.disconnect();
  }
});

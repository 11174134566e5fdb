// The consumer and the group admin calls against a real three-node Gregor cluster inside the test
// process: group membership and rebalances between members, auto and manual commits, eachBatch,
// seek, pause/resume; and a group shared with kafkajs members. Instrumentation events: what a
// member sees through a rebalance, and the same listener code run against kafkajs and against this
// client on this cluster sees the same event types (and REQUEST payloads with the same fields).

import { waitFor } from '@gregor/ground/testing';
import { startCluster, type TestCluster } from '@gregor/testkit';
import { Kafka as KafkaJs, logLevel as kafkajsLogLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PartitionAssigners } from '../consumer/assigners.js';
import type { Consumer } from '../consumer/consumer.js';
import type { InstrumentationEvent } from '../instrumentation.js';
import { Kafka } from '../kafka.js';
import { logLevel } from '../logger.js';

let cluster: TestCluster;
let kafka: Kafka;

beforeAll(async () => {
  cluster = await startCluster({ brokers: 3 });
  kafka = new Kafka({
    clientId: 'client-test',
    brokers: cluster.bootstrapServers,
    logLevel: process.env.CLIENT_LOG ? logLevel.INFO : logLevel.NOTHING,
    retry: { initialRetryTime: 100, retries: 8 },
  });
});
afterAll(() => cluster.stop());

// A session far longer than the waits below: a member that left is gone because it said so
// (LeaveGroup), not because its session expired.
const fast = { maxWaitTimeInMs: 200, heartbeatInterval: 300, sessionTimeout: 45_000 };

async function produce(topic: string, values: readonly string[], key?: (value: string) => string) {
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic, messages: values.map((value) => ({ value, key: key?.(value) })) });
  await producer.disconnect();
}

/**
 * What each member of a group did that decides where the next one starts: its joins (generation,
 * assignment) and the commits the coordinator accepted (a commit missing here failed), in order.
 * Printed by the assertions about records read again, so a failure says which partitions' commits
 * were behind and what each member had committed.
 */
function groupLog() {
  const lines: string[] = [];
  const startMs = Date.now();
  return {
    watch(name: string, consumer: Consumer): void {
      const line = (what: string) => lines.push(`${Date.now() - startMs} ms ${name}: ${what}`);
      consumer.on(consumer.events.GROUP_JOIN, ({ payload }) =>
        line(`joined generation ${payload.generationId}, ${JSON.stringify(payload.memberAssignment)}`),
      );
      consumer.on(consumer.events.COMMIT_OFFSETS, ({ payload }) =>
        line(
          `committed in generation ${payload.groupGenerationId}: ${payload.topics
            .flatMap((topic) => topic.partitions.map((p) => `${topic.topic}[${p.partition}]=${p.offset}`))
            .join(' ')}`,
        ),
      );
      consumer.on(consumer.events.REBALANCING, () => line('rebalancing'));
      consumer.on(consumer.events.STOP, () => line('stopped'));
    },
    toString: () => lines.join('\n'),
  };
}

function collect(consumer: Consumer, into: { partition: number; value: string; offset: number }[]) {
  return consumer.run({
    eachMessage: async ({ partition, message }) => {
      into.push({ partition, value: String(message.value), offset: Number(message.offset) });
    },
  });
}

describe('consumer', () => {
  it('shares partitions between members, rebalances as they come and go, and resumes from commits', async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'orders', numPartitions: 4, replicationFactor: 3 }] });
    const first = Array.from({ length: 300 }, (_, index) => `a${index}`);
    await produce('orders', first, (value) => value);

    const seenA: { partition: number; value: string; offset: number }[] = [];
    const log = groupLog();
    const a = kafka.consumer({ groupId: 'g1', ...fast });
    log.watch('a', a);
    const eventsOfA = new Map<string, InstrumentationEvent<Record<string, unknown>>[]>();
    for (const name of [
      a.events.HEARTBEAT,
      a.events.COMMIT_OFFSETS,
      a.events.FETCH,
      a.events.START_BATCH_PROCESS,
      a.events.END_BATCH_PROCESS,
      a.events.REBALANCING,
    ]) {
      eventsOfA.set(name, []);
      a.on(name, (event) => {
        eventsOfA.get(name)!.push(event as unknown as InstrumentationEvent<Record<string, unknown>>);
      });
    }
    await a.connect();
    await a.subscribe({ topic: 'orders', fromBeginning: true });
    await collect(a, seenA);
    await waitFor('member a reads everything', () => seenA.length >= 300);
    expect(new Set(seenA.map((record) => record.value))).toEqual(new Set(first));
    // Within a partition, records come in offset order.
    for (let partition = 0; partition < 4; partition++) {
      const offsets = seenA.filter((record) => record.partition === partition).map((record) => record.offset);
      expect(offsets).toEqual([...offsets].sort((x, y) => x - y));
    }

    const seenB: { partition: number; value: string; offset: number }[] = [];
    const b = kafka.consumer({ groupId: 'g1', ...fast });
    log.watch('b', b);
    await b.connect();
    await b.subscribe({ topic: 'orders', fromBeginning: true });
    await collect(b, seenB);
    await waitFor('both members hold partitions', () => {
      const held = [...a.assignments(), ...b.assignments()].flatMap((entry) => entry.partitions);
      return (
        a.assignments().length > 0 &&
        b.assignments().length > 0 &&
        held.length === 4 &&
        new Set(held).size === 4
      );
    });
    const described = (await admin.describeGroups(['g1'])).groups[0]!;
    expect(described.state).toBe('Stable');
    expect(described.members).toHaveLength(2);
    expect(described.protocol).toBe('RoundRobinAssigner');
    expect((await admin.listGroups()).groups).toContainEqual({ groupId: 'g1', protocolType: 'consumer' });

    const second = Array.from({ length: 200 }, (_, index) => `b${index}`);
    await produce('orders', second, (value) => value);
    await waitFor('the members read the new records', () => {
      const values = new Set([...seenA, ...seenB].map((record) => record.value));
      return second.every((value) => values.has(value));
    });
    // What a read before the rebalance was committed then: b did not read it again.
    expect(
      seenB.filter((record) => record.value.startsWith('a')),
      `b read again what a had read; the members' joins and commits:\n${log}`,
    ).toEqual([]);
    const bPartitions = b.assignments().flatMap((entry) => entry.partitions);
    expect(seenB.every((record) => bPartitions.includes(record.partition))).toBe(true);

    await b.disconnect();
    await waitFor('a holds every partition again', () => a.assignments()[0]?.partitions.length === 4, {
      timeoutMs: 20_000,
    });
    // What a saw through b's join and leave, in kafkajs's shapes.
    const of = (type: string) => eventsOfA.get(type)!;
    expect(of(a.events.REBALANCING).length).toBeGreaterThan(0);
    expect(of(a.events.REBALANCING)[0]!.payload).toEqual({ groupId: 'g1', memberId: expect.any(String) });
    // A heartbeat answered NONE (those sent while the group rebalanced, or to a coordinator that
    // moved, emit nothing), every heartbeatInterval from here.
    await waitFor('a heartbeat of a answered', () => of(a.events.HEARTBEAT).length > 0);
    expect(of(a.events.HEARTBEAT)[0]!.payload).toMatchObject({
      groupId: 'g1',
      groupGenerationId: expect.any(Number),
    });
    const commits = of(a.events.COMMIT_OFFSETS).map((event) => event.payload);
    expect(commits[0]).toMatchObject({
      groupId: 'g1',
      topics: [expect.objectContaining({ topic: 'orders' })],
    });
    expect(of(a.events.FETCH)[0]!.payload).toMatchObject({
      nodeId: expect.any(Number),
      duration: expect.any(Number),
    });
    const batchesOfA = of(a.events.END_BATCH_PROCESS).map((event) => event.payload);
    // Every record a read was in some batch it started and ended.
    const recordsInBatches = batchesOfA.reduce((sum, batch) => sum + (batch.batchSize as number), 0);
    expect(recordsInBatches).toBe(seenA.length);
    expect(of(a.events.START_BATCH_PROCESS)).toHaveLength(batchesOfA.length);
    expect(batchesOfA[0]).toMatchObject({ topic: 'orders', duration: expect.any(Number) });
    await a.disconnect();

    // A new member of the group starts at the committed offsets: only what came after.
    const seenC: { partition: number; value: string; offset: number }[] = [];
    const c = kafka.consumer({ groupId: 'g1', ...fast });
    log.watch('c', c);
    await c.connect();
    await c.subscribe({ topic: 'orders', fromBeginning: true });
    await collect(c, seenC);
    await waitFor('c joined', () => c.assignments().length > 0);
    await produce('orders', ['last']);
    await waitFor('c reads the last record', () => seenC.some((record) => record.value === 'last'));
    // Anything else is a commit that did not cover what a or b had read: the log says whose.
    const where = (record: { partition: number; value: string; offset: number }) =>
      `${record.value} at orders[${record.partition}] offset ${record.offset}`;
    const last = seenC.find((record) => record.value === 'last')!;
    expect(
      seenC.map(where),
      `c read again what the group had read; its members' joins and commits:\n${log}`,
    ).toEqual([where(last)]);
    await c.disconnect();
    await admin.disconnect();
  });

  it('hands batches to eachBatch, commits by hand, seeks and pauses', async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'ledger', numPartitions: 2, replicationFactor: 3 }] });
    const producer = kafka.producer();
    await producer.connect();
    const send = (partition: number, values: readonly string[]) =>
      producer.send({ topic: 'ledger', messages: values.map((value) => ({ partition, value })) });
    await send(0, ['p0-0', 'p0-1', 'p0-2', 'p0-3']);
    await send(1, ['p1-0', 'p1-1']);

    const received: string[] = [];
    const consumer = kafka.consumer({ groupId: 'g2', ...fast });
    await consumer.connect();
    await consumer.subscribe({ topic: 'ledger', fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        for (const message of batch.messages) received.push(String(message.value));
      },
    });
    await waitFor('the first batches', () => received.length === 6);

    consumer.seek({ topic: 'ledger', partition: 0, offset: '2' });
    await waitFor('records after the seek', () => received.length === 8);
    expect(received.slice(6)).toEqual(['p0-2', 'p0-3']);

    consumer.pause([{ topic: 'ledger', partitions: [1] }]);
    expect(consumer.paused()).toEqual([{ topic: 'ledger', partitions: [1] }]);
    await send(1, ['p1-2']);
    await send(0, ['p0-4']);
    await waitFor('the unpaused partition goes on', () => received.includes('p0-4'));
    expect(received).not.toContain('p1-2');
    consumer.resume([{ topic: 'ledger', partitions: [1] }]);
    await waitFor('the resumed partition', () => received.includes('p1-2'));

    // Nothing was committed automatically; commit partition 0 up to offset 3 by hand.
    await consumer.commitOffsets([{ topic: 'ledger', partition: 0, offset: '3' }]);
    await consumer.disconnect();
    const again: string[] = [];
    const next = kafka.consumer({ groupId: 'g2', ...fast });
    await next.connect();
    await next.subscribe({ topic: 'ledger', fromBeginning: true });
    await next.run({ eachMessage: async ({ message }) => void again.push(String(message.value)) });
    // Partition 0 resumes at the commit; partition 1 had none, so it starts from the beginning.
    await waitFor('the next member reads from the commits', () => again.length === 5);
    expect(again.filter((value) => value.startsWith('p0'))).toEqual(['p0-3', 'p0-4']);
    expect(again.filter((value) => value.startsWith('p1'))).toEqual(['p1-0', 'p1-1', 'p1-2']);
    await next.disconnect();
    await producer.disconnect();
    await admin.disconnect();
  });

  it('shares a group with a kafkajs member', async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'mixed', numPartitions: 4, replicationFactor: 3 }] });
    const ours = kafka.consumer({ groupId: 'g3', ...fast });
    await ours.connect();
    await ours.subscribe({ topic: 'mixed', fromBeginning: true });
    const seen: string[] = [];
    await ours.run({ eachMessage: async ({ message }) => void seen.push(String(message.value)) });
    const theirs = new KafkaJs({
      brokers: cluster.bootstrapServers,
      logLevel: kafkajsLogLevel.NOTHING,
    }).consumer({
      groupId: 'g3',
      maxWaitTimeInMs: 200,
      heartbeatInterval: 300,
    });
    await theirs.connect();
    await theirs.subscribe({ topic: 'mixed', fromBeginning: true });
    let theirAssignment: number[] = [];
    theirs.on(theirs.events.GROUP_JOIN, (event) => {
      theirAssignment = event.payload.memberAssignment.mixed ?? [];
    });
    await theirs.run({ eachMessage: async ({ message }) => void seen.push(String(message.value)) });
    await waitFor(
      'both hold two partitions',
      () => ours.assignments()[0]?.partitions.length === 2 && theirAssignment.length === 2,
    );
    expect(new Set([...ours.assignments()[0]!.partitions, ...theirAssignment])).toEqual(
      new Set([0, 1, 2, 3]),
    );
    const values = Array.from({ length: 100 }, (_, index) => `m${index}`);
    await produce('mixed', values, (value) => value);
    await waitFor('every record read once by the group', () => seen.length >= 100);
    expect(new Set(seen)).toEqual(new Set(values));
    await theirs.disconnect();
    await ours.disconnect();
    await admin.disconnect();
  });

  it('the same listener code sees the same event types against kafkajs and this client; REQUEST has kafkajs’s fields', async () => {
    const kafkajs = new KafkaJs({
      clientId: 'client-test',
      brokers: cluster.bootstrapServers,
      logLevel: kafkajsLogLevel.NOTHING,
      retry: { initialRetryTime: 100, retries: 8 },
    });
    const theirs = await observeEvents(kafkajs as unknown as KafkaLike, 'events-kafkajs');
    const ours = await observeEvents(kafka as unknown as KafkaLike, 'events-gregor');
    for (const client of ['admin', 'producer', 'consumer'] as const) {
      expect([...ours.types[client]].sort(), client).toEqual([...theirs.types[client]].sort());
    }
    expect(ours.types.consumer).toEqual(
      new Set([
        'consumer.connect',
        'consumer.group_join',
        'consumer.fetch_start',
        'consumer.fetch',
        'consumer.start_batch_process',
        'consumer.end_batch_process',
        'consumer.heartbeat',
        'consumer.commit_offsets',
        'consumer.network.request',
        'consumer.stop',
        'consumer.disconnect',
      ]),
    );
    const fields = [
      'broker',
      'clientId',
      'correlationId',
      'size',
      'createdAt',
      'sentAt',
      'pendingDuration',
      'duration',
      'apiName',
      'apiKey',
      'apiVersion',
    ].sort();
    expect(Object.keys(ours.produceRequest).sort()).toEqual(fields);
    expect(Object.keys(theirs.produceRequest).sort()).toEqual(fields);
    expect(ours.produceRequest).toMatchObject({ clientId: 'client-test', apiName: 'Produce', apiKey: 0 });
    expect(ours.produceRequest.broker).toMatch(/^[\w.-]+:\d+$/);
    expect(ours.produceRequest.size).toBeGreaterThan(0);
    expect(ours.produceRequest.sentAt).toBeGreaterThanOrEqual(ours.produceRequest.createdAt as number);
  });

  it('rebalances cooperatively: a member keeps reading what it keeps while a newcomer takes its share', async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'coop', numPartitions: 4, replicationFactor: 3 }] });
    await produce(
      'coop',
      Array.from({ length: 200 }, (_, index) => `x${index}`),
      (value) => value,
    );
    const options = { groupId: 'g4', ...fast, partitionAssigners: [PartitionAssigners.cooperativeSticky] };
    const seen: string[] = [];
    const a = kafka.consumer(options);
    await a.connect();
    await a.subscribe({ topic: 'coop', fromBeginning: true });
    await a.run({ eachMessage: async ({ message }) => void seen.push(String(message.value)) });
    await waitFor('a reads everything', () => seen.length >= 200);
    const before = a.assignments()[0]!.partitions;
    expect([...before].sort()).toEqual([0, 1, 2, 3]);

    // Sample a's assignment while b joins: with cooperative rebalancing it never drops to nothing.
    let smallestHeldByA = 4;
    const sampler = setInterval(() => {
      smallestHeldByA = Math.min(smallestHeldByA, a.assignments()[0]?.partitions.length ?? 0);
    }, 5);
    const b = kafka.consumer(options);
    await b.connect();
    await b.subscribe({ topic: 'coop', fromBeginning: true });
    await b.run({ eachMessage: async ({ message }) => void seen.push(String(message.value)) });
    await waitFor(
      'two partitions each',
      () => a.assignments()[0]?.partitions.length === 2 && b.assignments()[0]?.partitions.length === 2,
    );
    clearInterval(sampler);
    expect(smallestHeldByA).toBe(2);
    const kept = a.assignments()[0]!.partitions;
    expect(kept.every((partition) => before.includes(partition))).toBe(true);
    expect(new Set([...kept, ...b.assignments()[0]!.partitions])).toEqual(new Set([0, 1, 2, 3]));
    const describedProtocol = (await admin.describeGroups(['g4'])).groups[0]!.protocol;
    expect(describedProtocol).toBe('cooperative-sticky');

    await produce(
      'coop',
      Array.from({ length: 200 }, (_, index) => `y${index}`),
      (value) => value,
    );
    await waitFor('the group reads the new records', () => seen.length >= 400);
    // a committed what it read before giving partitions up: nothing was read twice.
    expect(seen).toHaveLength(400);
    expect(new Set(seen).size).toBe(400);
    await b.disconnect();
    await a.disconnect();
    await admin.disconnect();
  });
});

/** What kafkajs's `Kafka` and ours have in common, as listener code written for kafkajs uses it. */
interface Emitting {
  readonly events: Record<string, string>;
  on(
    eventName: string,
    listener: (event: { type: string; payload: Record<string, unknown> }) => void,
  ): () => void;
  connect(): Promise<void>;
  disconnect(): Promise<void>;
}
interface KafkaLike {
  admin(): Emitting & {
    createTopics(options: {
      topics: { topic: string; numPartitions: number; replicationFactor: number }[];
    }): Promise<boolean>;
  };
  producer(): Emitting & { send(record: { topic: string; messages: { value: string }[] }): Promise<unknown> };
  consumer(config: Record<string, unknown>): Emitting & {
    subscribe(subscription: { topic: string; fromBeginning: boolean }): Promise<void>;
    run(config: { autoCommitInterval: number; eachMessage: () => Promise<void> }): Promise<void>;
  };
}

/**
 * Listener code as one writes it for kafkajs: every event of every client recorded by type; an
 * admin creates a topic, a producer sends ten records, a consumer reads them in a new group and runs
 * until it has heartbeaten and committed. Run once against kafkajs and once against our client.
 */
async function observeEvents(client: KafkaLike, topic: string) {
  const types = { admin: new Set<string>(), producer: new Set<string>(), consumer: new Set<string>() };
  let produceRequest: Record<string, unknown> | undefined;
  const listenToAll = (emitter: Emitting, into: Set<string>) => {
    for (const name of Object.values(emitter.events)) {
      emitter.on(name, (event) => {
        into.add(event.type);
        if (event.type === 'producer.network.request' && event.payload.apiName === 'Produce')
          produceRequest ??= event.payload;
      });
    }
  };
  const admin = client.admin();
  listenToAll(admin, types.admin);
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 3 }] });
  const producer = client.producer();
  listenToAll(producer, types.producer);
  await producer.connect();
  await producer.send({
    topic,
    messages: Array.from({ length: 10 }, (_, index) => ({ value: `v${index}` })),
  });
  await producer.disconnect();
  const consumer = client.consumer({
    groupId: `${topic}-group`,
    heartbeatInterval: 100,
    maxWaitTimeInMs: 100,
  });
  listenToAll(consumer, types.consumer);
  let read = 0;
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    autoCommitInterval: 100,
    eachMessage: async () => {
      read++;
    },
  });
  await waitFor(`${topic}: ten records read, a heartbeat and a commit`, () =>
    read === 10 && types.consumer.has('consumer.heartbeat') && types.consumer.has('consumer.commit_offsets')
      ? true
      : undefined,
  );
  await consumer.disconnect();
  await admin.disconnect();
  expect(produceRequest).toBeDefined();
  return { types, produceRequest: produceRequest! };
}

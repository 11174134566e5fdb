// Fetch with incremental sessions (KIP-227) through the request router, on the in-process fixture.

import { ApiKey, ErrorCode, type RequestInput, zeroUuid } from '@gregor/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { batchOf } from '../testing/batches.js';
import { LocalClusterFixture, type LocalClusterOptions } from '../testing/local-cluster-fixture.js';
import { topicIdToWire } from './topic-ids.js';

let cluster: LocalClusterFixture;
afterEach(async () => {
  await cluster.close();
});

async function start(
  topics: Record<string, [partitions: number, replicas: number]>,
  options: LocalClusterOptions = {},
) {
  cluster = await LocalClusterFixture.start(options);
  for (const [name, [numPartitions, replicationFactor]] of Object.entries(topics)) {
    const response = await cluster.request(ApiKey.CreateTopics, 4, {
      topics: [{ name, numPartitions, replicationFactor, assignments: [], configs: [] }],
      timeoutMs: 1000,
      validateOnly: false,
    });
    expect(response.topics[0]!.errorCode).toBe(ErrorCode.NONE);
  }
}

async function produce(topic: string, partition: number, values: string[]): Promise<void> {
  const response = await cluster.request(ApiKey.Produce, 7, {
    transactionalId: null,
    acks: 1,
    timeoutMs: 1000,
    topics: [{ name: topic, partitions: [{ partitionIndex: partition, records: batchOf(values) }] }],
  });
  expect(response.responses[0]!.partitions[0]!.errorCode).toBe(ErrorCode.NONE);
}

interface SessionFetch {
  readonly sessionId: number;
  readonly sessionEpoch: number;
  readonly partitions?: readonly { topic: string; partition: number; fetchOffset: number }[];
  readonly forgotten?: { topic: string; partitions: number[] }[];
}

/** The wire id of a topic in the image; a name not in it stands for an id the broker does not know. */
function wireIdOf(topic: string): string {
  const image = cluster.image().topic(topic);
  return image === undefined
    ? Buffer.from(topic).toString('hex').padEnd(32, '0').slice(0, 32)
    : topicIdToWire(image.topicId);
}

/** From v13 the topics travel by id only (the names are not on the wire). */
function sessionFetch(request: SessionFetch, version = 12) {
  const topics = new Map<string, { partition: number; fetchOffset: number }[]>();
  for (const { topic, partition, fetchOffset } of request.partitions ?? []) {
    topics.set(topic, [...(topics.get(topic) ?? []), { partition, fetchOffset }]);
  }
  const idOf = (topic: string) => (version >= 13 ? wireIdOf(topic) : zeroUuid);
  const body: RequestInput<typeof ApiKey.Fetch> = {
    replicaId: -1,
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: 50 * 1024 * 1024,
    isolationLevel: 0,
    sessionId: request.sessionId,
    sessionEpoch: request.sessionEpoch,
    topics: [...topics].map(([topic, partitions]) => ({
      topic,
      topicId: idOf(topic),
      partitions: partitions.map(({ partition, fetchOffset }) => ({
        partition,
        currentLeaderEpoch: -1,
        fetchOffset: BigInt(fetchOffset),
        lastFetchedEpoch: -1,
        logStartOffset: -1n,
        partitionMaxBytes: 1024 * 1024,
      })),
    })),
    forgottenTopicsData: (request.forgotten ?? []).map((topic) => ({ ...topic, topicId: idOf(topic.topic) })),
    rackId: '',
  };
  return cluster.request(ApiKey.Fetch, version, body);
}

/** topic-partition of every partition in the answer, in answer order (by id: the name the id is of). */
function answered(response: Awaited<ReturnType<typeof sessionFetch>>): string[] {
  const names = new Map([...cluster.image().topics.keys()].map((name) => [wireIdOf(name), name]));
  return response.responses.flatMap((topic) =>
    topic.partitions.map(
      (p) =>
        `${topic.topicId === zeroUuid ? topic.topic : (names.get(topic.topicId) ?? topic.topicId)}-${p.partitionIndex}`,
    ),
  );
}

const all = (topic: string, count: number) =>
  Array.from({ length: count }, (_, partition) => ({ topic, partition, fetchOffset: 0 }));

describe('Fetch sessions', () => {
  it('a full fetch creates a session; incremental fetches answer only what changed', async () => {
    await start({ t: [4, 1] });
    await produce('t', 1, ['a']);
    const full = await sessionFetch({ sessionId: 0, sessionEpoch: 0, partitions: all('t', 4) });
    expect(full.errorCode).toBe(ErrorCode.NONE);
    expect(full.sessionId).not.toBe(0);
    expect(answered(full)).toEqual(['t-0', 't-1', 't-2', 't-3']);

    // The client moves past what it read on t-1: nothing new anywhere.
    const quiet = await sessionFetch({
      sessionId: full.sessionId,
      sessionEpoch: 1,
      partitions: [{ topic: 't', partition: 1, fetchOffset: 1 }],
    });
    expect(quiet).toMatchObject({ errorCode: ErrorCode.NONE, sessionId: full.sessionId, responses: [] });

    await produce('t', 2, ['b', 'c']);
    const one = await sessionFetch({ sessionId: full.sessionId, sessionEpoch: 2 });
    expect(answered(one)).toEqual(['t-2']);
    const partition = one.responses[0]!.partitions[0]!;
    expect(partition).toMatchObject({ errorCode: ErrorCode.NONE, highWatermark: 2n });
    expect(partition.records!.length).toBeGreaterThan(0);

    // The records were read but the client did not move its offset: it gets them again, not the others.
    const again = await sessionFetch({ sessionId: full.sessionId, sessionEpoch: 3 });
    expect(answered(again)).toEqual(['t-2']);
    const moved = await sessionFetch({
      sessionId: full.sessionId,
      sessionEpoch: 4,
      partitions: [{ topic: 't', partition: 2, fetchOffset: 2 }],
    });
    expect(moved.responses).toEqual([]);
  });

  it('forgotten partitions are no longer read; added ones are answered at once', async () => {
    await start({ t: [2, 1], u: [1, 1] });
    const full = await sessionFetch({ sessionId: 0, sessionEpoch: 0, partitions: all('t', 2) });
    const changed = await sessionFetch({
      sessionId: full.sessionId,
      sessionEpoch: 1,
      partitions: [{ topic: 'u', partition: 0, fetchOffset: 0 }],
      forgotten: [{ topic: 't', partitions: [0] }],
    });
    expect(answered(changed)).toEqual(['u-0']);
    await produce('t', 0, ['gone']);
    await produce('t', 1, ['kept']);
    const next = await sessionFetch({ sessionId: full.sessionId, sessionEpoch: 2 });
    expect(answered(next)).toEqual(['t-1']);
  });

  it('answers a wrong epoch with INVALID_FETCH_SESSION_EPOCH and an unknown id with FETCH_SESSION_ID_NOT_FOUND', async () => {
    await start({ t: [1, 1] });
    const full = await sessionFetch({ sessionId: 0, sessionEpoch: 0, partitions: all('t', 1) });
    expect(await sessionFetch({ sessionId: full.sessionId, sessionEpoch: 5 })).toMatchObject({
      errorCode: ErrorCode.INVALID_FETCH_SESSION_EPOCH,
      sessionId: 0,
      responses: [],
    });
    expect(await sessionFetch({ sessionId: full.sessionId + 1, sessionEpoch: 1 })).toMatchObject({
      errorCode: ErrorCode.FETCH_SESSION_ID_NOT_FOUND,
      sessionId: 0,
      responses: [],
    });
    // The session survived both refusals.
    expect((await sessionFetch({ sessionId: full.sessionId, sessionEpoch: 1 })).errorCode).toBe(
      ErrorCode.NONE,
    );
  });

  it('serves epoch -1 without a session; -1 with an id closes it', async () => {
    await start({ t: [1, 1] });
    await produce('t', 0, ['a']);
    const sessionless = await sessionFetch({ sessionId: 0, sessionEpoch: -1, partitions: all('t', 1) });
    expect(sessionless.sessionId).toBe(0);
    expect(sessionless.responses[0]!.partitions[0]!.records!.length).toBeGreaterThan(0);
    expect(cluster.context.fetchSessions.sessionCount).toBe(0);

    const full = await sessionFetch({ sessionId: 0, sessionEpoch: 0, partitions: all('t', 1) });
    expect(cluster.context.fetchSessions.sessionCount).toBe(1);
    const closing = await sessionFetch({
      sessionId: full.sessionId,
      sessionEpoch: -1,
      partitions: all('t', 1),
    });
    expect(closing.sessionId).toBe(0);
    expect(answered(closing)).toEqual(['t-0']);
    expect(cluster.context.fetchSessions.sessionCount).toBe(0);
  });

  it('answers session id 0 when max.incremental.fetch.session.cache.slots is 0', async () => {
    await start({ t: [1, 1] }, { fetchSessionCacheSlots: 0 });
    const full = await sessionFetch({ sessionId: 0, sessionEpoch: 0, partitions: all('t', 1) });
    expect(full).toMatchObject({ errorCode: ErrorCode.NONE, sessionId: 0 });
    expect(answered(full)).toEqual(['t-0']);
  });

  it('a partition whose leadership moved away is answered with NOT_LEADER_OR_FOLLOWER in the next incremental fetch', async () => {
    await start({ pair: [2, 2] }, { otherBrokerIds: [2] });
    const led = cluster
      .image()
      .topic('pair')!
      .partitions.findIndex((state) => state.leader === 1);
    const full = await sessionFetch({
      sessionId: 0,
      sessionEpoch: 0,
      partitions: [{ topic: 'pair', partition: led, fetchOffset: 0 }],
    });
    expect(answered(full)).toEqual([`pair-${led}`]);
    expect((await sessionFetch({ sessionId: full.sessionId, sessionEpoch: 1 })).responses).toEqual([]);
    // Broker 1 is fenced: the replicated partition's leadership goes to broker 2.
    await cluster.heartbeat(1, { wantFence: true });
    const moved = await sessionFetch({ sessionId: full.sessionId, sessionEpoch: 2 });
    expect(answered(moved)).toEqual([`pair-${led}`]);
    const partition = moved.responses[0]!.partitions[0]!;
    expect(partition.errorCode).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    expect(partition.currentLeader).toEqual({ leaderId: 2, leaderEpoch: 1 });
  });
});

describe('Fetch sessions by topic id (v13+)', () => {
  it('keys the session on topic ids: incremental fetches and forgotten topics go by id', async () => {
    await start({ t: [2, 1], u: [1, 1] });
    const full = await sessionFetch({ sessionId: 0, sessionEpoch: 0, partitions: all('t', 2) }, 17);
    expect(full.sessionId).not.toBe(0);
    expect(full.responses.map((topic) => [topic.topic, topic.topicId])).toEqual([['', wireIdOf('t')]]);
    expect(answered(full)).toEqual(['t-0', 't-1']);

    const changed = await sessionFetch(
      {
        sessionId: full.sessionId,
        sessionEpoch: 1,
        partitions: [{ topic: 'u', partition: 0, fetchOffset: 0 }],
        forgotten: [{ topic: 't', partitions: [0] }],
      },
      17,
    );
    expect(answered(changed)).toEqual(['u-0']);
    await produce('t', 0, ['gone']);
    await produce('t', 1, ['kept']);
    const next = await sessionFetch({ sessionId: full.sessionId, sessionEpoch: 2 }, 17);
    expect(answered(next)).toEqual(['t-1']);
    expect(next.responses[0]!.partitions[0]!.records!.length).toBeGreaterThan(0);
  });

  it('answers an unknown topic id with UNKNOWN_TOPIC_ID, in a full and in an incremental fetch', async () => {
    await start({ t: [1, 1] });
    const full = await sessionFetch(
      {
        sessionId: 0,
        sessionEpoch: 0,
        partitions: [...all('t', 1), { topic: 'nowhere', partition: 0, fetchOffset: 0 }],
      },
      13,
    );
    expect(full.errorCode).toBe(ErrorCode.NONE);
    expect(full.responses.map((topic) => [topic.topicId, topic.partitions.map((p) => p.errorCode)])).toEqual([
      [wireIdOf('t'), [ErrorCode.NONE]],
      [wireIdOf('nowhere'), [ErrorCode.UNKNOWN_TOPIC_ID]],
    ]);
    // The error is told again each time, as any partition error is.
    const again = await sessionFetch({ sessionId: full.sessionId, sessionEpoch: 1 }, 13);
    expect(again.responses.map((topic) => [topic.topicId, topic.partitions[0]!.errorCode])).toEqual([
      [wireIdOf('nowhere'), ErrorCode.UNKNOWN_TOPIC_ID],
    ]);
  });

  it('answers UNKNOWN_TOPIC_ID for a session topic deleted and created again under its name', async () => {
    await start({ t: [1, 1] });
    const oldId = wireIdOf('t');
    const full = await sessionFetch({ sessionId: 0, sessionEpoch: 0, partitions: all('t', 1) }, 16);
    const deleted = await cluster.request(ApiKey.DeleteTopics, 4, { topicNames: ['t'], timeoutMs: 1000 });
    expect(deleted.responses[0]!.errorCode).toBe(ErrorCode.NONE);
    const created = await cluster.request(ApiKey.CreateTopics, 4, {
      topics: [{ name: 't', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }],
      timeoutMs: 1000,
      validateOnly: false,
    });
    expect(created.topics[0]!.errorCode).toBe(ErrorCode.NONE);
    expect(wireIdOf('t')).not.toBe(oldId);
    const next = await sessionFetch({ sessionId: full.sessionId, sessionEpoch: 1 }, 16);
    expect(next.responses.map((topic) => [topic.topicId, topic.partitions[0]!.errorCode])).toEqual([
      [oldId, ErrorCode.UNKNOWN_TOPIC_ID],
    ]);
  });

  it('refuses to use a session by names with ids and one by ids with names (FETCH_SESSION_TOPIC_ID_ERROR)', async () => {
    await start({ t: [1, 1] });
    const byIds = await sessionFetch({ sessionId: 0, sessionEpoch: 0, partitions: all('t', 1) }, 13);
    expect(await sessionFetch({ sessionId: byIds.sessionId, sessionEpoch: 1 }, 12)).toMatchObject({
      errorCode: ErrorCode.FETCH_SESSION_TOPIC_ID_ERROR,
      sessionId: 0,
      responses: [],
    });
    const byNames = await sessionFetch({ sessionId: 0, sessionEpoch: 0, partitions: all('t', 1) }, 12);
    expect(await sessionFetch({ sessionId: byNames.sessionId, sessionEpoch: 1 }, 13)).toMatchObject({
      errorCode: ErrorCode.FETCH_SESSION_TOPIC_ID_ERROR,
    });
    // Each session still serves the requests of its own kind.
    expect((await sessionFetch({ sessionId: byIds.sessionId, sessionEpoch: 1 }, 13)).errorCode).toBe(
      ErrorCode.NONE,
    );
  });
});

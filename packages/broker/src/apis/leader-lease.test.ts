// A broker without the leader lease (no heartbeat answered within broker.session.timeout.ms) stops
// acting as leader towards clients on its own, and resumes once a heartbeat is answered again.

import { ManualClock } from '@gregor/ground';
import { ApiKey, ErrorCode } from '@gregor/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { BrokerLease } from '../node/broker-lease.js';
import { batchOf } from '../testing/batches.js';
import { LocalClusterFixture } from '../testing/local-cluster-fixture.js';

const sessionTimeoutMs = 1_500;

let cluster: LocalClusterFixture;
/** The partition of `t` that broker 1 leads. */
let led = -1;
afterEach(async () => {
  await cluster.close();
});

/** Broker 1 with brokers 2 and 3 beside it, topic `t` (one partition led by 1), the lease granted now. */
async function setUp(): Promise<{ clock: ManualClock; lease: BrokerLease }> {
  const clock = new ManualClock(50_000);
  const lease = new BrokerLease(clock, sessionTimeoutMs);
  lease.answered(clock.nowMs(), false);
  cluster = await LocalClusterFixture.start({ otherBrokerIds: [2, 3], leaderLease: lease });
  const created = await cluster.request(ApiKey.CreateTopics, 4, {
    topics: [{ name: 't', numPartitions: 3, replicationFactor: 1, assignments: [], configs: [] }],
    timeoutMs: 1000,
    validateOnly: false,
  });
  expect(created.topics[0]!.errorCode).toBe(ErrorCode.NONE);
  // Placement spreads the three partitions over the three brokers: one of them is broker 1's.
  led = cluster
    .image()
    .topic('t')!
    .partitions.findIndex((state) => state.leader === 1);
  expect(led).toBeGreaterThanOrEqual(0);
  return { clock, lease };
}

async function produce(acks: number): Promise<number> {
  const response = await cluster.request(ApiKey.Produce, 8, {
    transactionalId: null,
    acks,
    timeoutMs: 1000,
    topics: [{ name: 't', partitions: [{ partitionIndex: led, records: batchOf(['v']) }] }],
  });
  return response.responses[0]!.partitions[0]!.errorCode;
}

function fetchBody(maxWaitMs: number, fetchOffset: number) {
  return {
    replicaId: -1,
    maxWaitMs,
    minBytes: 1,
    maxBytes: 1024 * 1024,
    isolationLevel: 0,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [
      {
        topic: 't',
        partitions: [
          {
            partition: led,
            currentLeaderEpoch: -1,
            fetchOffset: BigInt(fetchOffset),
            logStartOffset: -1n,
            partitionMaxBytes: 1024 * 1024,
          },
        ],
      },
    ],
    forgottenTopicsData: [],
    rackId: '',
  };
}

async function listLatest(): Promise<number> {
  const response = await cluster.request(ApiKey.ListOffsets, 4, {
    replicaId: -1,
    isolationLevel: 0,
    topics: [{ name: 't', partitions: [{ partitionIndex: led, currentLeaderEpoch: -1, timestamp: -1n }] }],
  });
  return response.topics[0]!.partitions[0]!.errorCode;
}

const metadataBody = {
  topics: [{ name: 't' }],
  allowAutoTopicCreation: false,
  includeClusterAuthorizedOperations: false,
  includeTopicAuthorizedOperations: false,
};

async function metadata() {
  return cluster.request(ApiKey.Metadata, 9, metadataBody);
}

describe('the leader lease', () => {
  it('held: the broker leads, and Metadata names it leader and controller', async () => {
    await setUp();
    expect(await produce(1)).toBe(ErrorCode.NONE);
    expect(await produce(-1)).toBe(ErrorCode.NONE);
    expect(await listLatest()).toBe(ErrorCode.NONE);
    const response = await metadata();
    expect(response.brokers.map((broker) => broker.nodeId)).toEqual([1, 2, 3]);
    expect(response.controllerId).toBe(1);
    expect(response.topics[0]!.partitions[led]).toMatchObject({ errorCode: ErrorCode.NONE, leaderId: 1 });
  });

  it('lapsed: Produce (acks 1 and all), Fetch and ListOffsets answer NOT_LEADER_OR_FOLLOWER', async () => {
    const { clock } = await setUp();
    expect(await produce(1)).toBe(ErrorCode.NONE);
    clock.advanceMs(sessionTimeoutMs);
    expect(await produce(1)).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    expect(await produce(-1)).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    expect(await listLatest()).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    const fetched = await cluster.request(ApiKey.Fetch, 11, fetchBody(0, 0));
    expect(fetched.responses[0]!.partitions[0]!.errorCode).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    // Nothing refused was written: the one record acknowledged before the lapse is all there is.
    expect(cluster.replicaManager.partition('t', led)!.log.logEndOffset).toBe(1);
  });

  it('lapsed: Metadata names no leader for its partitions and another controller, and still lists it', async () => {
    const { clock } = await setUp();
    const held = await cluster.send(ApiKey.Metadata, 9, metadataBody);
    expect(held).toMatchObject({ kind: 'respond' });
    expect(held).not.toHaveProperty('closeAfterWhenIdle');
    clock.advanceMs(sessionTimeoutMs);
    // The answer is given, and the connection then closed (when idle): clients that ask the broker
    // they used last would otherwise ask this one again for as long as it is cut off.
    const lapsed = await cluster.send(ApiKey.Metadata, 9, metadataBody);
    expect(lapsed).toMatchObject({ kind: 'respond', closeAfterWhenIdle: expect.stringContaining('lease') });
    const response = await metadata();
    expect(response.brokers.map((broker) => broker.nodeId)).toEqual([1, 2, 3]);
    expect(response.controllerId).toBe(2);
    expect(response.topics[0]!.partitions[led]).toMatchObject({
      errorCode: ErrorCode.LEADER_NOT_AVAILABLE,
      leaderId: -1,
      offlineReplicas: [],
    });
    // The partitions the others lead are named as before.
    for (const [index, entry] of response.topics[0]!.partitions.entries())
      if (index !== led) expect(entry.leaderId).toBeGreaterThan(1);
  });

  it('a consumer fetch parked on the leader answers NOT_LEADER_OR_FOLLOWER when the lease lapses', async () => {
    const { clock } = await setUp();
    let settled = false;
    const parked = cluster.request(ApiKey.Fetch, 11, fetchBody(60_000, 0)).finally(() => {
      settled = true;
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(false);
    clock.advanceMs(sessionTimeoutMs);
    cluster.replicaManager.leaseLapsed();
    const response = await parked;
    expect(response.responses[0]!.partitions[0]!.errorCode).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);
  });

  it('resumes when a heartbeat is answered again', async () => {
    const { clock, lease } = await setUp();
    clock.advanceMs(sessionTimeoutMs + 2_000);
    expect(await produce(1)).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    lease.answered(clock.nowMs(), false);
    expect(await produce(1)).toBe(ErrorCode.NONE);
    const response = await metadata();
    expect(response.topics[0]!.partitions[led]).toMatchObject({ errorCode: ErrorCode.NONE, leaderId: 1 });
    expect(response.controllerId).toBe(1);
  });
});

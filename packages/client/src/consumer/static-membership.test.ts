// Static membership (KIP-345) over a scripted coordinator: what the consumer sends with a
// groupInstanceId, that stopping a static member sends no LeaveGroup, and that FENCED_INSTANCE_ID
// stops it for good with a typed error.

import { waitFor } from '@gregor/ground/testing';
import { ApiKey, ErrorCode } from '@gregor/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import type { Cluster } from '../cluster.js';
import { KafkaJSFencedInstanceIdError, KafkaJSNonRetriableError } from '../errors.js';
import type { InstrumentationEvent } from '../instrumentation.js';
import { createLogger, logLevel } from '../logger.js';
import { resolveRetry, sleep } from '../retry.js';
import { Consumer, type ConsumerConfig } from './consumer.js';
import { encodeAssignment } from './consumer-protocol.js';
import type { CrashPayload, GroupJoinPayload } from './instrumentation.js';

const apiName = (apiKey: number) => Object.entries(ApiKey).find(([, key]) => key === apiKey)![0];

/** One broker that is coordinator and leader; the group answers as the test sets it. */
class ScriptedCoordinator {
  readonly retry = resolveRetry({ retries: 2, initialRetryTime: 1, maxRetryTime: 2 });
  readonly requests: { api: string; version: number; body: Record<string, unknown> }[] = [];
  /** The JoinGroup version the broker speaks. */
  joinGroupVersion = 6;
  heartbeatErrorCode: number = ErrorCode.NONE;
  commitErrorCode: number = ErrorCode.NONE;
  /** What the next LeaveGroups answer, in order (then NONE). */
  leaveErrorCodes: number[] = [];

  async connect(): Promise<void> {}
  disconnect(): void {}
  async ensureTopics(): Promise<void> {}
  addTargetTopics(): void {}
  async refreshMetadata(): Promise<void> {}
  async findCoordinator(): Promise<number> {
    return 1;
  }
  leaderFor(): number {
    return 1;
  }
  topicIdOf(): string | undefined {
    return undefined;
  }
  partitionCount(): number {
    return 2;
  }

  sent(api: string) {
    return this.requests.filter((request) => request.api === api);
  }

  sendVersioned(_nodeId: number, apiKey: number, body: (version: number) => Record<string, unknown>) {
    const version = apiKey === ApiKey.JoinGroup ? this.joinGroupVersion : 4;
    return this.answer(apiKey, version, body(version));
  }

  send(_nodeId: number, apiKey: number, body: Record<string, unknown>) {
    return this.answer(apiKey, 4, body);
  }

  private async answer(apiKey: number, version: number, body: Record<string, unknown>): Promise<unknown> {
    this.requests.push({ api: apiName(apiKey), version, body });
    switch (apiKey) {
      case ApiKey.JoinGroup:
        return {
          errorCode: 0,
          generationId: 3,
          protocolName: 'RoundRobinAssigner',
          // A static member taking its place back is told the old leader, not itself.
          leader: 'other-member',
          memberId: 'static-1-fresh',
          members: [],
        };
      case ApiKey.SyncGroup:
        return { errorCode: 0, assignment: encodeAssignment(new Map([['orders', [0, 1]]])) };
      case ApiKey.OffsetFetch:
        return {
          errorCode: 0,
          topics: [
            {
              name: 'orders',
              partitions: [0, 1].map((partitionIndex) => ({
                partitionIndex,
                committedOffset: 5n,
                errorCode: 0,
              })),
            },
          ],
        };
      case ApiKey.Fetch:
        await sleep(5);
        return {
          errorCode: 0,
          sessionId: 0,
          responses: [
            {
              topic: 'orders',
              partitions: [0, 1].map((partitionIndex) => ({
                partitionIndex,
                errorCode: 0,
                highWatermark: 5n,
                abortedTransactions: null,
                records: null,
              })),
            },
          ],
        };
      case ApiKey.Heartbeat:
        return { errorCode: this.heartbeatErrorCode };
      case ApiKey.OffsetCommit:
        return {
          topics: (body.topics as { name: string; partitions: { partitionIndex: number }[] }[]).map(
            (topic) => ({
              name: topic.name,
              partitions: topic.partitions.map((partition) => ({
                partitionIndex: partition.partitionIndex,
                errorCode: this.commitErrorCode,
              })),
            }),
          ),
        };
      case ApiKey.LeaveGroup:
        return { errorCode: this.leaveErrorCodes.shift() ?? ErrorCode.NONE, members: [] };
      default:
        throw new Error(`unexpected ${apiName(apiKey)}`);
    }
  }
}

const logger = createLogger(logLevel.NOTHING, () => () => undefined);
let consumer: Consumer | undefined;

function start(coordinator: ScriptedCoordinator, config: Partial<ConsumerConfig> = {}): Consumer {
  consumer = new Consumer(coordinator as unknown as Cluster, logger, {
    groupId: 'billing',
    heartbeatInterval: 10,
    maxWaitTimeInMs: 5,
    ...config,
  });
  return consumer;
}

afterEach(async () => {
  await consumer?.disconnect();
  consumer = undefined;
});

describe('static membership (groupInstanceId)', () => {
  it('sends the instance id in JoinGroup, SyncGroup, Heartbeat and OffsetCommit, and takes the assignment it is given', async () => {
    const coordinator = new ScriptedCoordinator();
    const member = start(coordinator, { groupInstanceId: 'billing-host-1' });
    const joins: InstrumentationEvent<GroupJoinPayload>[] = [];
    member.on(member.events.GROUP_JOIN, (event) => {
      joins.push(event);
    });
    await member.subscribe({ topic: 'orders' });
    await member.run({ eachMessage: async () => undefined });
    await waitFor('a heartbeat', () => coordinator.sent('Heartbeat').length > 0 || undefined);
    await member.commitOffsets([{ topic: 'orders', partition: 0, offset: '6' }]);

    const [join] = coordinator.sent('JoinGroup');
    // No MEMBER_ID_REQUIRED round trip is needed: the first JoinGroup already names the instance.
    expect(join?.body).toMatchObject({ memberId: '', groupInstanceId: 'billing-host-1' });
    expect(coordinator.sent('SyncGroup')[0]?.body).toMatchObject({
      memberId: 'static-1-fresh',
      generationId: 3,
      groupInstanceId: 'billing-host-1',
      assignments: [],
    });
    expect(coordinator.sent('Heartbeat')[0]?.body).toMatchObject({
      memberId: 'static-1-fresh',
      groupInstanceId: 'billing-host-1',
    });
    expect(coordinator.sent('OffsetCommit')[0]?.body).toMatchObject({ groupInstanceId: 'billing-host-1' });
    expect(member.assignments()).toEqual([{ topic: 'orders', partitions: [0, 1] }]);
    await waitFor('GROUP_JOIN', () => joins.length > 0 || undefined);
    expect(joins[0]).toMatchObject({
      type: 'consumer.group_join',
      payload: {
        groupId: 'billing',
        memberId: 'static-1-fresh',
        leaderId: 'other-member',
        isLeader: false,
        groupProtocol: 'RoundRobinAssigner',
        memberAssignment: { orders: [0, 1] },
        generationId: 3,
        groupInstanceId: 'billing-host-1',
      },
    });
  });

  it('stop() sends no LeaveGroup for a static member, but commits; a dynamic member leaves', async () => {
    const staticCoordinator = new ScriptedCoordinator();
    const staticMember = start(staticCoordinator, { groupInstanceId: 'billing-host-1' });
    await staticMember.subscribe({ topic: 'orders' });
    await staticMember.run({ eachMessage: async () => undefined, autoCommitInterval: 60_000 });
    await waitFor('joined', () => staticMember.assignments().length > 0 || undefined);
    const fetchesBeforeSeek = staticCoordinator.sent('Fetch').length;
    staticMember.seek({ topic: 'orders', partition: 1, offset: '9' });
    // Two fetches later the seek was applied before the second one.
    await waitFor(
      'seek applied',
      () => staticCoordinator.sent('Fetch').length > fetchesBeforeSeek + 2 || undefined,
    );
    await staticMember.disconnect();
    expect(staticCoordinator.sent('LeaveGroup')).toEqual([]);
    // What it processed is committed on stop all the same (its restart starts there).
    expect(staticCoordinator.sent('OffsetCommit').at(-1)?.body).toMatchObject({
      groupInstanceId: 'billing-host-1',
      topics: [{ name: 'orders', partitions: [{ partitionIndex: 1, committedOffset: 9n }] }],
    });

    const dynamicCoordinator = new ScriptedCoordinator();
    const dynamicMember = start(dynamicCoordinator);
    await dynamicMember.subscribe({ topic: 'orders' });
    await dynamicMember.run({ eachMessage: async () => undefined });
    await waitFor('joined', () => dynamicMember.assignments().length > 0 || undefined);
    expect(dynamicCoordinator.sent('JoinGroup')[0]?.body).toMatchObject({ groupInstanceId: null });
    await dynamicMember.disconnect();
    expect(dynamicCoordinator.sent('LeaveGroup')).toHaveLength(1);
  });

  it('a dynamic member asks again when LeaveGroup finds the coordinator moved or loading, a few times at most', async () => {
    const moved = new ScriptedCoordinator();
    moved.leaveErrorCodes = [ErrorCode.NOT_COORDINATOR, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS];
    const member = start(moved);
    await member.subscribe({ topic: 'orders' });
    await member.run({ eachMessage: async () => undefined });
    await waitFor('joined', () => member.assignments().length > 0 || undefined);
    await member.disconnect();
    expect(moved.sent('LeaveGroup')).toHaveLength(3);

    // Another error is not the coordinator's place: one LeaveGroup, then the session expires it.
    const refused = new ScriptedCoordinator();
    refused.leaveErrorCodes = [ErrorCode.UNKNOWN_MEMBER_ID];
    const other = start(refused);
    await other.subscribe({ topic: 'orders' });
    await other.run({ eachMessage: async () => undefined });
    await waitFor('joined', () => other.assignments().length > 0 || undefined);
    await other.disconnect();
    expect(refused.sent('LeaveGroup')).toHaveLength(1);

    const gone = new ScriptedCoordinator();
    gone.leaveErrorCodes = Array(4).fill(ErrorCode.NOT_COORDINATOR);
    const last = start(gone);
    await last.subscribe({ topic: 'orders' });
    await last.run({ eachMessage: async () => undefined });
    await waitFor('joined', () => last.assignments().length > 0 || undefined);
    await last.disconnect();
    expect(gone.sent('LeaveGroup')).toHaveLength(3);
  });

  it('FENCED_INSTANCE_ID on a heartbeat crashes the consumer for good with KafkaJSFencedInstanceIdError', async () => {
    const coordinator = new ScriptedCoordinator();
    const member = start(coordinator, { groupInstanceId: 'billing-host-1' });
    const crashes: InstrumentationEvent<CrashPayload>[] = [];
    member.on(member.events.CRASH, (event) => {
      crashes.push(event);
    });
    await member.subscribe({ topic: 'orders' });
    await member.run({ eachMessage: async () => undefined });
    await waitFor('joined', () => member.assignments().length > 0 || undefined);
    coordinator.heartbeatErrorCode = ErrorCode.FENCED_INSTANCE_ID;
    await waitFor('CRASH', () => crashes[0]);

    const error = crashes[0]!.payload.error;
    expect(error).toBeInstanceOf(KafkaJSFencedInstanceIdError);
    expect(error).toMatchObject({
      type: 'FENCED_INSTANCE_ID',
      retriable: false,
      groupInstanceId: 'billing-host-1',
    });
    expect(crashes[0]!.payload).toMatchObject({ groupId: 'billing', restart: false });
    expect(member.assignments()).toEqual([]);
    // Stopped: no more heartbeats, fetches or joins (the partitions are another process's now).
    const sentAtCrash = coordinator.requests.length;
    await sleep(60);
    expect(coordinator.requests.slice(sentAtCrash).map((request) => request.api)).toEqual([]);
    await expect(member.commitOffsets([{ topic: 'orders', partition: 0, offset: '6' }])).rejects.toBe(error);
    await expect(member.run({ eachMessage: async () => undefined })).rejects.toBe(error);
    await member.disconnect();
    expect(coordinator.sent('LeaveGroup')).toEqual([]);
  });

  it('FENCED_INSTANCE_ID on a commit crashes it the same way', async () => {
    const coordinator = new ScriptedCoordinator();
    const member = start(coordinator, { groupInstanceId: 'billing-host-1' });
    const crashes: InstrumentationEvent<CrashPayload>[] = [];
    member.on(member.events.CRASH, (event) => {
      crashes.push(event);
    });
    await member.subscribe({ topic: 'orders' });
    await member.run({ eachMessage: async () => undefined, autoCommitInterval: 0 });
    await waitFor('joined', () => member.assignments().length > 0 || undefined);
    coordinator.commitErrorCode = ErrorCode.FENCED_INSTANCE_ID;
    member.seek({ topic: 'orders', partition: 0, offset: '7' });
    await waitFor('CRASH', () => crashes[0]);
    expect(crashes[0]!.payload.error).toBeInstanceOf(KafkaJSFencedInstanceIdError);
  });

  it('refuses a broker whose JoinGroup cannot carry the instance id (below v5)', async () => {
    const coordinator = new ScriptedCoordinator();
    coordinator.joinGroupVersion = 4;
    const member = start(coordinator, { groupInstanceId: 'billing-host-1' });
    const crashes: InstrumentationEvent<CrashPayload>[] = [];
    member.on(member.events.CRASH, (event) => {
      crashes.push(event);
    });
    await member.subscribe({ topic: 'orders' });
    await member.run({ eachMessage: async () => undefined });
    await waitFor('CRASH', () => crashes[0]);
    expect(crashes[0]!.payload.error).toBeInstanceOf(KafkaJSNonRetriableError);
    expect(crashes[0]!.payload.error.message).toMatch(/JoinGroup v5/);
    expect(coordinator.sent('JoinGroup')).toEqual([]);
  });

  it('refuses an empty groupInstanceId and unknown event names', () => {
    const coordinator = new ScriptedCoordinator();
    expect(() => start(coordinator, { groupInstanceId: '' })).toThrow(/must not be empty/);
    const member = start(coordinator);
    expect(() => member.on('consumer.nope' as never, () => undefined)).toThrow(KafkaJSNonRetriableError);
  });
});

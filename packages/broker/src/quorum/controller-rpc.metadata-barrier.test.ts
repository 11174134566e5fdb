// MetadataBarrier over the controller service: the active controller answers each partition's
// leader and leader epoch of the topic asked for, from its image; a node that is not the active
// controller sends the caller on. It and BrokerHeartbeat are answered at once, without a commit
// to prove the leadership: so only while a majority of voters still fetches from this node.

import { waitFor } from '@gregor/ground/testing';
import { encodeMetadataBatch, uuidFromBytes } from '@gregor/metadata';
import { ErrorCode } from '@gregor/protocol';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../logging.js';
import { ControllerRpcDispatcher } from './controller-rpc.js';
import { MetadataPublisher } from './metadata-publisher.js';
import { type LeaderChange, type MetadataLog, QuorumController } from './quorum-controller.js';

const clusterId = 'metadata-barrier-cluster';

/** A metadata log whose high watermark and log end the test sets; a proposal commits at once. */
class ScriptedLog implements MetadataLog {
  highWatermark = 0;
  logEndOffset = 0;
  /** Whether a majority of voters still fetches from this node (leadershipConfirmedWithin). */
  followed = true;
  private readonly listeners: ((change: LeaderChange) => void)[] = [];

  constructor(
    private readonly publisher: MetadataPublisher,
    private readonly isLeader: boolean,
  ) {}

  async propose(payload: Uint8Array): Promise<{ offset: number; epoch: number }> {
    const offset = this.logEndOffset++;
    this.highWatermark = this.logEndOffset;
    this.publisher.apply([{ offset, type: 'data', payload }]);
    return { offset, epoch: 1 };
  }

  status() {
    return {
      leaderId: this.isLeader ? 1 : 2,
      epoch: 1,
      highWatermark: this.highWatermark,
      logEndOffset: this.logEndOffset,
      isLeader: this.isLeader,
    };
  }

  onLeaderChange(listener: (change: LeaderChange) => void): void {
    this.listeners.push(listener);
  }

  leadershipConfirmedWithin(): boolean {
    return this.isLeader && this.followed;
  }

  elect(): void {
    for (const listener of this.listeners) listener({ leaderId: 1, epoch: 1, isLocalLeader: true });
  }
}

function node(isLeader: boolean): {
  log: ScriptedLog;
  publisher: MetadataPublisher;
  controller: QuorumController;
  rpc: ControllerRpcDispatcher;
} {
  const publisher = new MetadataPublisher();
  const log = new ScriptedLog(publisher, isLeader);
  const controller = new QuorumController({
    nodeId: 1,
    clusterId,
    log,
    publisher,
    config: {},
    random: { nextInt: () => 0 },
    nowMs: () => 1_000,
    leadershipMaxAgeMs: 1_000,
    logger: createLogger({ nodeId: 1, level: 'silent', prettyPrint: false }),
  });
  return {
    log,
    publisher,
    controller,
    rpc: new ControllerRpcDispatcher(1, clusterId, controller, publisher, [1, 2, 3]),
  };
}

describe('MetadataBarrier', () => {
  it('is answered by the active controller with the leader and leader epoch of each partition of the topic', async () => {
    const { log, controller, publisher, rpc } = node(true);
    // What the quorum committed before this controller's election: a topic of two partitions,
    // the second moved once (leader epoch 1).
    const topicId = uuidFromBytes(Buffer.alloc(16, 7));
    const partition = (partitionIndex: number, leader: number) => ({
      type: 'partition' as const,
      topicId,
      partitionIndex,
      replicas: [1, 2, 3],
      isr: [1, 2, 3],
      leader,
      leaderEpoch: 0,
      partitionEpoch: 0,
    });
    publisher.apply([
      {
        offset: log.logEndOffset++,
        type: 'data',
        payload: encodeMetadataBatch([
          { type: 'topic', name: '__consumer_offsets', topicId },
          partition(0, 1),
          partition(1, 1),
          { type: 'partitionChange', topicId, partitionIndex: 1, leader: 2, isr: null },
        ]),
      },
    ]);
    log.highWatermark = log.logEndOffset;
    log.elect();
    await waitFor('the controller to become active', () => controller.isActive, {
      timeoutMs: 5_000,
      intervalMs: 1,
    });
    const response = await rpc.dispatch('MetadataBarrier', { clusterId, topic: '__consumer_offsets' });
    expect(response.status.errorCode).toBe(ErrorCode.NONE);
    expect(response.partitions).toEqual([
      { partitionIndex: 0, leaderId: 1, leaderEpoch: 0 },
      { partitionIndex: 1, leaderId: 2, leaderEpoch: 1 },
    ]);
    const unknown = await rpc.dispatch('MetadataBarrier', { clusterId, topic: 'no-such-topic' });
    expect(unknown).toMatchObject({ status: { errorCode: ErrorCode.NONE }, partitions: [] });
    const foreign = await rpc.dispatch('MetadataBarrier', {
      clusterId: 'other',
      topic: '__consumer_offsets',
    });
    expect(foreign.status.errorCode).toBe(ErrorCode.INCONSISTENT_CLUSTER_ID);
    controller.close();
  });

  it('sends the caller to the leader it knows when this node is not the active controller', async () => {
    const { controller, rpc } = node(false);
    const response = await rpc.dispatch('MetadataBarrier', { clusterId, topic: '__consumer_offsets' });
    expect(response.status).toMatchObject({ errorCode: ErrorCode.NOT_CONTROLLER, leaderId: 2 });
    expect(response.partitions).toEqual([]);
    controller.close();
  });

  it('is refused by a controller that a majority of voters no longer fetches from', async () => {
    const { log, controller, rpc } = node(true);
    log.elect();
    await waitFor('the controller to become active', () => controller.isActive, {
      timeoutMs: 5_000,
      intervalMs: 1,
    });
    log.followed = false;
    const response = await rpc.dispatch('MetadataBarrier', { clusterId, topic: '__consumer_offsets' });
    expect(response.status.errorCode).toBe(ErrorCode.NOT_CONTROLLER);
    expect(response.partitions).toEqual([]);
    controller.close();
  });
});

// A controller paused past the quorum's fetch timeout (SIGSTOP in chaos) wakes still thinking it
// leads: its Raft core has not ticked yet and has not heard of the new epoch. Its own broker's
// heartbeat, sent the moment it resumed, reached it in-process and was answered unfenced; the
// broker's leader lease renewed, it answered Metadata and Produce as the leader of partitions
// the new controller had moved 2 s before (an idempotent librdkafka producer, sent there by that
// stale Metadata, got OUT_OF_ORDER_SEQUENCE_NUMBER: the old leader's producer state lacked what
// the new leader had accepted). Heartbeats renew leases, so only a controller that a majority of
// voters still fetches from may answer them.
describe('BrokerHeartbeat', () => {
  async function registered(): Promise<ReturnType<typeof node> & { brokerEpoch: number }> {
    const active = node(true);
    active.log.elect();
    await waitFor('the controller to become active', () => active.controller.isActive, {
      timeoutMs: 5_000,
      intervalMs: 1,
    });
    const registration = await active.rpc.dispatch('RegisterBroker', {
      clusterId,
      brokerId: 1,
      incarnationId: 'AAAAAAAAAAAAAAAAAAAAAg',
      listeners: [{ name: 'PLAINTEXT', host: 'localhost', port: 9092, securityProtocol: 0 }],
      rack: '',
      hasRack: false,
    });
    expect(registration.status.errorCode).toBe(ErrorCode.NONE);
    return { ...active, brokerEpoch: registration.brokerEpoch };
  }

  const heartbeat = (rpc: ControllerRpcDispatcher, brokerEpoch: number) =>
    rpc.dispatch('BrokerHeartbeat', {
      clusterId,
      brokerId: 1,
      brokerEpoch,
      currentMetadataOffset: 1_000,
      wantFence: false,
      wantShutDown: false,
      offlineLogDirs: [],
      offlineReplicas: [],
    });

  it('is answered by a controller a majority of voters fetches from', async () => {
    const { controller, rpc, brokerEpoch } = await registered();
    const answered = await heartbeat(rpc, brokerEpoch);
    expect(answered.status.errorCode).toBe(ErrorCode.NONE);
    controller.close();
  });

  it('is refused, fenced, by a controller that a majority of voters no longer fetches from', async () => {
    const { controller, rpc, log, brokerEpoch } = await registered();
    log.followed = false;
    const refused = await heartbeat(rpc, brokerEpoch);
    expect(refused.status.errorCode).toBe(ErrorCode.NOT_CONTROLLER);
    expect(refused.isFenced).toBe(true);
    // Followed again (the followers fetch once more): answered as before.
    log.followed = true;
    const answered = await heartbeat(rpc, brokerEpoch);
    expect(answered.status.errorCode).toBe(ErrorCode.NONE);
    controller.close();
  });
});

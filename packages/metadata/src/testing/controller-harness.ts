// A fake-clock driver for controller tests: it commits every batch through encode → decode → a
// separate image (as brokers will see it), and checks that image equals the controller's own.

import { SeededRandom } from '@gregor/ground';
import { expect } from 'vitest';
import { Controller } from '../controller.js';
import type { ControllerConfig } from '../controller-config.js';
import type { ControllerError } from '../errors.js';
import { type ControllerOutcome, isControllerError } from '../errors.js';
import { applyRecords, MetadataImage } from '../image.js';
import { decodeMetadataBatch, encodeMetadataBatch } from '../record-codec.js';
import type { MetadataRecord, ReplicaOnBroker } from '../records.js';
import { uuidFromBytes } from '../uuid.js';

export const clusterId = 'gregor-test-cluster';

export function incarnation(brokerId: number, generation = 0): string {
  const bytes = Buffer.alloc(16);
  bytes.writeUInt32BE(brokerId, 0);
  bytes.writeUInt32BE(generation, 4);
  bytes[15] = 1;
  return uuidFromBytes(bytes);
}

export function listeners(brokerId: number) {
  return [{ name: 'PLAINTEXT', host: `broker-${brokerId}`, port: 9092, securityProtocol: 0 }];
}

export class ControllerHarness {
  nowMs = 1_000_000;
  committed: MetadataImage = MetadataImage.empty;
  /** Offsets of the committed metadata log: the next record's offset. */
  logEndOffset = 0;
  controller!: Controller;
  controllerEpoch = 0;
  nextTickMs = 0;
  readonly brokerEpochs = new Map<number, number>();
  readonly committedBatches: MetadataRecord[][] = [];

  constructor(
    readonly config: Partial<ControllerConfig> = {},
    readonly seed = 1,
  ) {
    this.failover();
  }

  /** A new controller epoch: a fresh Controller from the committed image, as after a Raft election. */
  failover(controllerId = 3000): void {
    this.controllerEpoch += 1;
    const { controller, records } = Controller.activate({
      image: this.committed,
      controllerId,
      controllerEpoch: this.controllerEpoch,
      clusterId,
      nowMs: this.nowMs,
      metadataLogEndOffset: this.logEndOffset,
      random: new SeededRandom(this.seed * 7919 + this.controllerEpoch),
      secretBytes: (byteCount) => Buffer.alloc(byteCount, this.seed),
      config: this.config,
    });
    this.controller = controller;
    this.commit(records);
    this.nextTickMs = this.nowMs;
  }

  commit(records: readonly MetadataRecord[]): void {
    if (records.length === 0) return;
    const decoded = decodeMetadataBatch(encodeMetadataBatch(records));
    this.committed = applyRecords(this.committed, decoded);
    this.logEndOffset += decoded.length;
    this.committedBatches.push(decoded);
    expect(this.committed).toEqual(this.controller.image);
  }

  /** Commits a successful outcome's records and returns its response; fails the test on an error. */
  ok<R>(outcome: ControllerOutcome<R>): R {
    if (isControllerError(outcome)) throw new Error(`unexpected controller error ${JSON.stringify(outcome)}`);
    this.commit(outcome.records);
    return outcome.response;
  }

  /** The error code of an outcome that must have failed. */
  fail<R>(outcome: ControllerOutcome<R>): ControllerError {
    if (!isControllerError(outcome))
      throw new Error(`expected an error, got ${JSON.stringify(outcome.response)}`);
    return outcome;
  }

  register(brokerId: number, generation = 0): number {
    const response = this.ok(
      this.controller.registerBroker(
        {
          brokerId,
          clusterId,
          incarnationId: incarnation(brokerId, generation),
          listeners: listeners(brokerId),
          rack: null,
        },
        this.nowMs,
        this.logEndOffset,
      ),
    );
    this.brokerEpochs.set(brokerId, response.brokerEpoch);
    return response.brokerEpoch;
  }

  heartbeat(
    brokerId: number,
    options: {
      offset?: number;
      wantFence?: boolean;
      wantShutDown?: boolean;
      offlineLogDirs?: readonly string[];
      offlineReplicas?: readonly ReplicaOnBroker[];
    } = {},
  ) {
    return this.ok(
      this.controller.brokerHeartbeat(
        {
          brokerId,
          brokerEpoch: this.brokerEpochs.get(brokerId)!,
          currentMetadataOffset: options.offset ?? this.logEndOffset - 1,
          wantFence: options.wantFence ?? false,
          wantShutDown: options.wantShutDown ?? false,
          offlineLogDirs: options.offlineLogDirs ?? [],
          offlineReplicas: options.offlineReplicas ?? [],
        },
        this.nowMs,
        this.logEndOffset,
      ),
    );
  }

  /** Registers brokers and heartbeats them until caught up, so they are active. */
  startBrokers(brokerIds: readonly number[]): void {
    for (const brokerId of brokerIds) this.register(brokerId);
    for (const brokerId of brokerIds) expect(this.heartbeat(brokerId).isFenced).toBe(false);
  }

  tick() {
    const response = this.ok(this.controller.tick(this.nowMs));
    this.nextTickMs = response.nextDeadlineMs;
    return response;
  }

  /**
   * Moves the clock by `durationMs` as a driver would: `alive` brokers heartbeat every heartbeat
   * interval, and the controller ticks at each deadline it asks for. Returns every broker fenced.
   */
  run(durationMs: number, alive: readonly number[], heartbeatIntervalMs = 250): number[] {
    const endMs = this.nowMs + durationMs;
    const nextHeartbeatMs = new Map(
      alive.map((id, i) => [id, this.nowMs + ((i * 37) % heartbeatIntervalMs)]),
    );
    const fenced: number[] = [];
    while (this.nowMs < endMs) {
      const nextMs = Math.min(endMs, this.nextTickMs, ...nextHeartbeatMs.values());
      this.nowMs = Math.max(this.nowMs, nextMs);
      for (const [brokerId, dueMs] of nextHeartbeatMs) {
        if (dueMs <= this.nowMs) {
          this.heartbeat(brokerId);
          nextHeartbeatMs.set(brokerId, this.nowMs + heartbeatIntervalMs);
        }
      }
      if (this.nextTickMs <= this.nowMs) fenced.push(...this.tick().fencedBrokerIds);
    }
    return fenced;
  }

  partition(topic: string, index: number) {
    const state = this.committed.topic(topic)?.partitions[index];
    if (state === undefined) throw new Error(`no partition ${topic}-${index}`);
    return state;
  }

  createTopic(
    name: string,
    numPartitions: number,
    replicationFactor: number,
    configs: Record<string, string> = {},
  ) {
    return this.ok(
      this.controller.createTopic(
        {
          name,
          numPartitions,
          replicationFactor,
          configs: Object.entries(configs).map(([configName, value]) => ({ name: configName, value })),
        },
        { validateOnly: false },
      ),
    );
  }

  /** The leader's AlterPartition with the partition's current epochs. */
  alterIsr(topic: string, index: number, newIsr: readonly number[]) {
    const state = this.partition(topic, index);
    return this.controller.alterPartition({
      brokerId: state.leader,
      brokerEpoch: this.brokerEpochs.get(state.leader)!,
      topicId: this.committed.topic(topic)!.topicId,
      partitionIndex: index,
      leaderEpoch: state.leaderEpoch,
      partitionEpoch: state.partitionEpoch,
      newIsr,
    });
  }
}

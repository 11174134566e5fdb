import type { SeededRandom } from '@gregor/ground';
import {
  type AlterPartitionRequest,
  Controller,
  type ControllerConfig,
  type ControllerOutcome,
  isBrokerActive,
  isControllerError,
  MetadataImage,
  type MetadataRecord,
  type PartitionState,
  uuidFromBytes,
} from '@gregor/metadata';
import { ErrorCode } from '@gregor/protocol';

export const simClusterId = 'replication-sim';
export const simTopic = 'sim';

/**
 * The controller node of the replication simulation: Gregor's real `Controller` from
 * @gregor/metadata (registration, fencing after the session timeout, elections from the ISR,
 * AlterPartition checks, preferred-leader elections), driven as the broker's QuorumController drives
 * it, minus Raft: every batch it returns counts as committed at once (the metadata log's end offset
 * grows by its records), and brokers learn the image from their registration and heartbeat answers.
 */
export class SimControllerNode {
  private readonly controller: Controller;
  private metadataLogEndOffset = 0;
  private readonly lastHeartbeats = new Map<number, number>();
  private leaderChanges = 0;
  /** The partition's leader as of the last commit, to count elections. */
  private lastLeader: number | undefined;
  private isrChangesValue = 0;
  readonly topicId: string;

  constructor(brokerIds: readonly number[], random: SeededRandom, config: Partial<ControllerConfig>) {
    const { controller, records } = Controller.activate({
      image: MetadataImage.empty,
      controllerId: 0,
      controllerEpoch: 1,
      clusterId: simClusterId,
      nowMs: 0,
      metadataLogEndOffset: 0,
      random,
      // A fixed secret: drawing it from `random` would shift every seed's replay.
      secretBytes: (byteCount) => Buffer.alloc(byteCount, 0x5a),
      config,
    });
    this.controller = controller;
    this.commit(records);
    // Every replica starts registered and unfenced, and the topic has one partition on all of them.
    for (const brokerId of brokerIds) {
      const { brokerEpoch } = this.expect(this.controller.registerBroker(registration(brokerId, 0), 0, 0));
      this.expect(
        this.controller.brokerHeartbeat(
          {
            brokerId,
            brokerEpoch,
            currentMetadataOffset: this.metadataLogEndOffset,
            wantFence: false,
            wantShutDown: false,
          },
          0,
          this.metadataLogEndOffset,
        ),
      );
      this.lastHeartbeats.set(brokerId, 0);
    }
    this.topicId = this.expect(
      this.controller.createTopic(
        { name: simTopic, numPartitions: 1, replicationFactor: brokerIds.length, configs: [] },
        { validateOnly: false },
      ),
    ).topicId;
  }

  get image(): MetadataImage {
    return this.controller.image;
  }

  /** The metadata log end offset: a broker that applied this much has seen every committed record. */
  get offset(): number {
    return this.metadataLogEndOffset;
  }

  get state(): PartitionState {
    return this.image.topic(simTopic)!.partitions[0]!;
  }

  get leaderElections(): number {
    return this.leaderChanges;
  }

  /** Committed AlterPartition changes. */
  get isrChanges(): number {
    return this.isrChangesValue;
  }

  isActive(brokerId: number): boolean {
    return isBrokerActive(this.image.broker(brokerId));
  }

  brokerEpoch(brokerId: number): number {
    return this.image.broker(brokerId)?.brokerEpoch ?? -1;
  }

  lastHeartbeatMs(brokerId: number): number {
    return this.lastHeartbeats.get(brokerId) ?? Number.NEGATIVE_INFINITY;
  }

  /** A broker's new incarnation registers: its epoch, or the controller's refusal. */
  register(brokerId: number, incarnation: number, nowMs: number): { errorCode: number; brokerEpoch: number } {
    const outcome = this.controller.registerBroker(registration(brokerId, incarnation), nowMs, this.offset);
    if (isControllerError(outcome)) return { errorCode: outcome.errorCode, brokerEpoch: -1 };
    this.commit(outcome.records);
    return { errorCode: ErrorCode.NONE, brokerEpoch: outcome.response.brokerEpoch };
  }

  heartbeat(brokerId: number, brokerEpoch: number, appliedOffset: number, nowMs: number): number {
    const outcome = this.controller.brokerHeartbeat(
      { brokerId, brokerEpoch, currentMetadataOffset: appliedOffset, wantFence: false, wantShutDown: false },
      nowMs,
      this.metadataLogEndOffset,
    );
    if (isControllerError(outcome)) return outcome.errorCode;
    this.lastHeartbeats.set(brokerId, nowMs);
    this.commit(outcome.records);
    return ErrorCode.NONE;
  }

  /** Fences the brokers whose sessions expired (and restores preferred leaders when due). */
  tick(nowMs: number): void {
    this.commit(this.controller.tick(nowMs).records);
  }

  alterPartition(request: AlterPartitionRequest): { errorCode: number; partitionEpoch: number } {
    const outcome = this.controller.alterPartition(request);
    if (isControllerError(outcome)) return { errorCode: outcome.errorCode, partitionEpoch: -1 };
    if (outcome.records.length > 0) this.isrChangesValue++;
    this.commit(outcome.records);
    return { errorCode: ErrorCode.NONE, partitionEpoch: outcome.response.partitionEpoch };
  }

  /** The controller applied `records` to its image already: they commit, and the log end moves. */
  private commit(records: readonly MetadataRecord[]): void {
    if (records.length === 0) return;
    this.metadataLogEndOffset += records.length;
    const leader = this.image.topic(simTopic)?.partitions[0]?.leader;
    if (this.lastLeader !== undefined && leader !== this.lastLeader) this.leaderChanges++;
    this.lastLeader = leader;
  }

  private expect<R>(outcome: ControllerOutcome<R>): R {
    if (isControllerError(outcome)) throw new Error(`controller set-up failed: ${outcome.errorMessage}`);
    this.commit(outcome.records);
    return outcome.response;
  }
}

function registration(brokerId: number, incarnation: number) {
  // A version-4-shaped UUID that names the broker and its incarnation.
  const incarnationBytes = Buffer.alloc(16);
  incarnationBytes.writeUInt32BE(brokerId, 0);
  incarnationBytes[6] = 0x40;
  incarnationBytes[8] = 0x80;
  incarnationBytes.writeUInt32BE(incarnation, 12);
  return {
    brokerId,
    clusterId: simClusterId,
    incarnationId: uuidFromBytes(incarnationBytes),
    listeners: [{ name: 'PLAINTEXT', host: 'localhost', port: 9000 + brokerId, securityProtocol: 0 }],
    rack: null,
  };
}

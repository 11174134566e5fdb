// A real metadata log for the shell's tests: the metadata Controller registers three brokers,
// unfences them and creates topics, and every batch it returns is kept as one Raft entry.

import {
  applyRecords,
  Controller,
  type ControllerOutcome,
  isControllerError,
  MetadataImage,
  type MetadataRecord,
  uuidFromBytes,
} from '@gregor/metadata';

export const testClusterId = 'shell-test-cluster';
export const controllerNodeId = 2;

export interface BuiltLog {
  /** Each controller batch, in commit order. */
  readonly batches: MetadataRecord[][];
  /** The image after each batch (images[i] includes batches[0..i]). */
  readonly images: MetadataImage[];
  readonly image: MetadataImage;
}

/** A deterministic generator (xorshift32) for topic ids and replica placement. */
function fixedRandom(seed: number): { nextInt(maxExclusive: number): number } {
  let state = seed >>> 0 || 1;
  return {
    nextInt(maxExclusive: number): number {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      return (state >>> 0) % maxExclusive;
    },
  };
}

function incarnation(brokerId: number): string {
  const bytes = Buffer.alloc(16);
  bytes.writeUInt32BE(brokerId, 0);
  bytes[15] = 1;
  return uuidFromBytes(bytes);
}

/** Three unfenced brokers, topic `orders` (3 partitions, RF 3, retention.ms set) and `audit`. */
export function buildMetadataLog(): BuiltLog {
  const batches: MetadataRecord[][] = [];
  const images: MetadataImage[] = [];
  let image = MetadataImage.empty;
  const nowMs = 1_700_000_000_000;
  const commit = (records: readonly MetadataRecord[]) => {
    if (records.length === 0) return;
    batches.push([...records]);
    image = applyRecords(image, records);
    images.push(image);
  };
  const ok = <R>(outcome: ControllerOutcome<R>): R => {
    if (isControllerError(outcome)) throw new Error(`controller refused: ${outcome.errorMessage}`);
    commit(outcome.records);
    return outcome.response;
  };
  const { controller, records } = Controller.activate({
    image,
    controllerId: controllerNodeId,
    controllerEpoch: 1,
    clusterId: testClusterId,
    nowMs,
    metadataLogEndOffset: 0,
    random: fixedRandom(7),
    secretBytes: (byteCount) => Buffer.alloc(byteCount, 7),
  });
  commit(records);
  for (const brokerId of [1, 2, 3]) {
    const { brokerEpoch } = ok(
      controller.registerBroker(
        {
          brokerId,
          clusterId: testClusterId,
          incarnationId: incarnation(brokerId),
          listeners: [{ name: 'PLAINTEXT', host: '127.0.0.1', port: 9091 + brokerId, securityProtocol: 0 }],
          rack: null,
        },
        nowMs,
        batches.length,
      ),
    );
    ok(
      controller.brokerHeartbeat(
        { brokerId, brokerEpoch, currentMetadataOffset: 1_000, wantFence: false, wantShutDown: false },
        nowMs,
        batches.length,
      ),
    );
  }
  ok(
    controller.createTopic(
      {
        name: 'orders',
        numPartitions: 3,
        replicationFactor: 3,
        configs: [{ name: 'retention.ms', value: '60000' }],
      },
      { validateOnly: false },
    ),
  );
  ok(
    controller.createTopic(
      { name: 'audit', numPartitions: 1, replicationFactor: 1, configs: [] },
      { validateOnly: false },
    ),
  );
  return { batches, images, image };
}

// TxnOffsetCommit and KIP-890 on one in-process broker: the real group coordinator driver and
// `__consumer_offsets` log, a fake transaction coordinator. v0-4 are verified (the group's offsets
// partition must be in the producer's transaction, i.e. AddOffsetsToTxn happened) when
// transaction.partition.verification.enable is on; v5 has the partition added whatever the setting.

import { SeededRandom } from '@gregor/ground';
import { ApiKey, ErrorCode } from '@gregor/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GroupCoordinatorDriver } from '../groups/group-coordinator-driver.js';
import { offsetsTopicName } from '../groups/offsets-topic.js';
import { createRequestRouter } from '../request-router.js';
import { FakeTransactionVerifier } from '../testing/fake-transaction-verifier.js';
import { LocalClusterFixture, settle } from '../testing/local-cluster-fixture.js';
import { apiHandlers } from './api-handlers.js';

const groupId = 'billing';
const producerId = 21;
const producerEpoch = 3;

let cluster: LocalClusterFixture;
let groups: GroupCoordinatorDriver;
let coordinator: FakeTransactionVerifier;
let offsetsPartition: number;

beforeEach(async () => {
  cluster = await LocalClusterFixture.start();
  groups = new GroupCoordinatorDriver({
    brokerId: cluster.brokerId,
    replicaManager: cluster.replicaManager,
    clock: cluster.clock,
    timers: cluster.timers,
    random: new SeededRandom(5),
    logger: cluster.logger,
    offsetsTopic: { numPartitions: 2, replicationFactor: 1 },
    groupInitialRebalanceDelayMs: 0,
    metadataBarrier: cluster.metadataBarrier,
  });
  cluster.router = createRequestRouter(cluster.context, apiHandlers({ groups }));
  const created = await cluster.request(ApiKey.CreateTopics, 4, {
    topics: [{ name: 'orders', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }],
    timeoutMs: 1000,
    validateOnly: false,
  });
  expect(created.topics[0]!.errorCode).toBe(ErrorCode.NONE);
  const found = await cluster.request(ApiKey.FindCoordinator, 2, { key: groupId, keyType: 0 });
  expect(found.errorCode).toBe(ErrorCode.NONE);
  offsetsPartition = groups.offsetsPartitionFor(groupId);
  await settle(
    () => groups.ownedPartitions().includes(offsetsPartition) && !groups.isLoading(offsetsPartition),
  );
  coordinator = new FakeTransactionVerifier();
  cluster.replicaManager.useTransactionVerifier(coordinator);
});
afterEach(async () => {
  groups.close();
  await cluster.close();
});

/** The error of the one partition a TxnOffsetCommit at `version` commits. */
async function commitOffset(version: number, epoch = producerEpoch): Promise<number> {
  const response = await cluster.request(ApiKey.TxnOffsetCommit, version, {
    transactionalId: 'tx',
    groupId,
    producerId: BigInt(producerId),
    producerEpoch: epoch,
    generationId: -1,
    memberId: '',
    groupInstanceId: null,
    topics: [
      {
        name: 'orders',
        partitions: [
          { partitionIndex: 0, committedOffset: 42n, committedLeaderEpoch: -1, committedMetadata: null },
        ],
      },
    ],
  });
  return response.topics[0]!.partitions[0]!.errorCode;
}

/** How far the group's offsets partition reaches: it grows only when offsets are stored. */
function offsetsLogEnd(): number {
  return Number(cluster.replicaManager.partition(offsetsTopicName, offsetsPartition)!.log.logEndOffset);
}

const question = (addToTransaction: boolean) => ({
  transactionalId: 'tx',
  producerId,
  producerEpoch,
  topic: offsetsTopicName,
  partition: offsetsPartition,
  addToTransaction,
});

describe('TxnOffsetCommit with transaction verification (KIP-890)', () => {
  it('refuses offsets whose group partition is not in the transaction: TRANSACTION_ABORTABLE at v4, INVALID_TXN_STATE before', async () => {
    coordinator.answer = async () => ErrorCode.INVALID_TXN_STATE;
    const before = offsetsLogEnd();
    const byVersion: Record<number, number> = {};
    for (const version of [0, 3, 4]) byVersion[version] = await commitOffset(version);
    expect(byVersion).toEqual({
      0: ErrorCode.INVALID_TXN_STATE,
      3: ErrorCode.INVALID_TXN_STATE,
      4: ErrorCode.TRANSACTION_ABORTABLE,
    });
    expect(coordinator.asked).toEqual([question(false), question(false), question(false)]);
    expect(offsetsLogEnd()).toBe(before);
  });

  it('stores offsets whose group partition is in the transaction', async () => {
    const before = offsetsLogEnd();
    expect(await commitOffset(4)).toBe(ErrorCode.NONE);
    expect(coordinator.asked).toEqual([question(false)]);
    expect(offsetsLogEnd()).toBeGreaterThan(before);
  });

  it("answers the coordinator's busy or moving errors COORDINATOR_NOT_AVAILABLE, a fenced epoch as the version knows it", async () => {
    for (const coordinatorError of [
      ErrorCode.CONCURRENT_TRANSACTIONS,
      ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
      ErrorCode.NOT_COORDINATOR,
      ErrorCode.NETWORK_EXCEPTION,
    ]) {
      coordinator.answer = async () => coordinatorError;
      expect(await commitOffset(4)).toBe(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    }
    coordinator.answer = async () => ErrorCode.PRODUCER_FENCED;
    expect(await commitOffset(4)).toBe(ErrorCode.PRODUCER_FENCED);
    expect(await commitOffset(2)).toBe(ErrorCode.INVALID_PRODUCER_EPOCH);
  });

  it('asks nothing of v0-4 with transaction.partition.verification.enable=false; v5 still has the partition added', async () => {
    cluster.replicaManager.useTransactionVerifier(coordinator, false);
    coordinator.answer = async () => ErrorCode.INVALID_TXN_STATE;
    const before = offsetsLogEnd();
    expect(await commitOffset(4)).toBe(ErrorCode.NONE);
    expect(coordinator.asked).toEqual([]);
    expect(offsetsLogEnd()).toBeGreaterThan(before);
    coordinator.answer = async () => ErrorCode.NONE;
    expect(await commitOffset(5)).toBe(ErrorCode.NONE);
    expect(coordinator.asked).toEqual([question(true)]);
  });

  it('answers v5 COORDINATOR_NOT_AVAILABLE without a transaction coordinator; v4 then goes unverified', async () => {
    cluster.replicaManager.useTransactionVerifier(undefined);
    expect(await commitOffset(5)).toBe(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    expect(await commitOffset(4)).toBe(ErrorCode.NONE);
  });
});

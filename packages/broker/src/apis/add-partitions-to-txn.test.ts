// AddPartitionsToTxn through the router, with a fake coordinator: v0-3 (a client's one
// transaction) and v4-5 (KIP-890's brokers' batches: each transaction added or, with verify_only,
// verified on its own; v5 answers a partition not in the transaction TRANSACTION_ABORTABLE).

import { ApiKey, ErrorCode, type RequestInput } from '@gregor/protocol';
import type { VerifyPartitionsRequest } from '@gregor/txn';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRequestRouter } from '../request-router.js';
import { LocalClusterFixture } from '../testing/local-cluster-fixture.js';
import type { TransactionCoordinatorDriver } from '../transactions/transaction-coordinator-driver.js';
import { createAddPartitionsToTxnHandler } from './add-partitions-to-txn.js';
import { apiHandlers } from './api-handlers.js';
import { addPartitionsToTxnAuthorized } from './txn-authorization.js';

const topic = 'txn-topic';
let cluster: LocalClusterFixture;
/** What the fake coordinator was asked: verifications and additions, in order. */
let asked: { kind: 'verify' | 'add'; transactionalId: string; partitions: unknown }[];
/** The partitions the fake coordinator holds in each id's ongoing transaction. */
const ongoing = new Map<string, Set<string>>([['tx-a', new Set([`${topic}-0`])]]);

beforeEach(async () => {
  cluster = await LocalClusterFixture.start();
  const created = await cluster.request(ApiKey.CreateTopics, 4, {
    topics: [{ name: topic, numPartitions: 2, replicationFactor: 1, assignments: [], configs: [] }],
    timeoutMs: 1000,
    validateOnly: false,
  });
  expect(created.topics[0]!.errorCode).toBe(ErrorCode.NONE);
  asked = [];
  const driver = {
    transactions: {
      verifyPartitions: (request: VerifyPartitionsRequest) => {
        asked.push({
          kind: 'verify',
          transactionalId: request.transactionalId,
          partitions: request.partitions,
        });
        const held = ongoing.get(request.transactionalId) ?? new Set();
        return request.partitions.flatMap(({ topic: name, partitions }) =>
          partitions.map((partition) => ({
            topic: name,
            partition,
            errorCode: held.has(`${name}-${partition}`) ? ErrorCode.NONE : ErrorCode.INVALID_TXN_STATE,
          })),
        );
      },
    },
    request: async (
      api: string,
      call: (coordinator: unknown, requestId: number, nowMs: number) => unknown,
    ) => {
      let added: { transactionalId: string; partitions: unknown } | undefined;
      call(
        {
          addPartitionsToTxn: (
            _requestId: number,
            request: { transactionalId: string; partitions: unknown },
          ) => {
            added = request;
            return [];
          },
        },
        1,
        0,
      );
      expect(api).toBe('AddPartitionsToTxn');
      asked.push({ kind: 'add', transactionalId: added!.transactionalId, partitions: added!.partitions });
      return {
        api,
        errorCode: added!.transactionalId === 'tx-fenced' ? ErrorCode.PRODUCER_FENCED : ErrorCode.NONE,
      };
    },
  } as unknown as TransactionCoordinatorDriver;
  cluster.router = createRequestRouter(cluster.context, {
    ...apiHandlers(),
    [ApiKey.AddPartitionsToTxn]: addPartitionsToTxnAuthorized(createAddPartitionsToTxnHandler(driver)),
  });
});
afterEach(async () => {
  await cluster.close();
});

type Transaction = RequestInput<typeof ApiKey.AddPartitionsToTxn>['transactions'] extends
  | readonly (infer T)[]
  | undefined
  ? T
  : never;

function transaction(
  transactionalId: string,
  verifyOnly: boolean,
  partitions: number[],
  name = topic,
): Transaction {
  return { transactionalId, producerId: 7n, producerEpoch: 1, verifyOnly, topics: [{ name, partitions }] };
}

async function batch(version: number, transactions: Transaction[]) {
  return cluster.request(ApiKey.AddPartitionsToTxn, version, {
    transactionalId: '',
    producerId: 0n,
    producerEpoch: 0,
    topics: [],
    transactions,
  });
}

describe('AddPartitionsToTxn', () => {
  it('v4 answers each transaction of the batch on its own: verified, added, or refused for an unknown topic', async () => {
    const response = await batch(4, [
      transaction('tx-a', true, [0, 1]),
      transaction('tx-b', false, [1]),
      transaction('tx-c', true, [0]),
      {
        ...transaction('tx-d', false, [0]),
        topics: [
          { name: topic, partitions: [0] },
          { name: 'nope', partitions: [0] },
        ],
      },
      transaction('tx-fenced', false, [0]),
    ]);
    expect(response.errorCode).toBe(ErrorCode.NONE);
    expect(response.resultsByTopicV3AndBelow).toEqual([]);
    const errors = response.resultsByTransaction.map(({ transactionalId, topicResults }) => [
      transactionalId,
      topicResults.flatMap(({ name, resultsByPartition }) =>
        resultsByPartition.map(({ partitionIndex, partitionErrorCode }) => [
          `${name}-${partitionIndex}`,
          partitionErrorCode,
        ]),
      ),
    ]);
    expect(errors).toEqual([
      [
        'tx-a',
        [
          [`${topic}-0`, ErrorCode.NONE],
          [`${topic}-1`, ErrorCode.INVALID_TXN_STATE],
        ],
      ],
      ['tx-b', [[`${topic}-1`, ErrorCode.NONE]]],
      ['tx-c', [[`${topic}-0`, ErrorCode.INVALID_TXN_STATE]]],
      [
        'tx-d',
        [
          [`${topic}-0`, ErrorCode.OPERATION_NOT_ATTEMPTED],
          ['nope-0', ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
        ],
      ],
      ['tx-fenced', [[`${topic}-0`, ErrorCode.PRODUCER_FENCED]]],
    ]);
    // verify_only adds nothing; an unknown topic reaches no coordinator.
    expect(asked.map(({ kind, transactionalId }) => `${kind} ${transactionalId}`)).toEqual([
      'verify tx-a',
      'add tx-b',
      'verify tx-c',
      'add tx-fenced',
    ]);
  });

  it('v5 answers a partition not in the transaction TRANSACTION_ABORTABLE (KIP-890), v4 INVALID_TXN_STATE', async () => {
    const notIn = async (version: number) =>
      (await batch(version, [transaction('tx-a', true, [1])])).resultsByTransaction[0]!.topicResults[0]!
        .resultsByPartition[0]!.partitionErrorCode;
    expect(await notIn(5)).toBe(ErrorCode.TRANSACTION_ABORTABLE);
    expect(await notIn(4)).toBe(ErrorCode.INVALID_TXN_STATE);
  });

  it('v3 and below still answer their one transaction by topic (a fenced v1 producer: INVALID_PRODUCER_EPOCH)', async () => {
    const add = async (version: number, transactionalId: string) =>
      (
        await cluster.request(ApiKey.AddPartitionsToTxn, version, {
          transactionalId,
          producerId: 7n,
          producerEpoch: 1,
          topics: [{ name: topic, partitions: [0] }],
        })
      ).resultsByTopicV3AndBelow;
    expect(await add(3, 'tx-b')).toEqual([
      { name: topic, resultsByPartition: [{ partitionIndex: 0, partitionErrorCode: ErrorCode.NONE }] },
    ]);
    expect((await add(1, 'tx-fenced'))[0]!.resultsByPartition[0]!.partitionErrorCode).toBe(
      ErrorCode.INVALID_PRODUCER_EPOCH,
    );
    expect(asked.map(({ kind }) => kind)).toEqual(['add', 'add']);
  });
});

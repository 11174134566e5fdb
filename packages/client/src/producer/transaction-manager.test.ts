import { ApiKey, coordinatorKeyType, ErrorCode } from '@gregor/protocol';
import { describe, expect, it } from 'vitest';
import {
  KafkaJSConnectionError,
  KafkaJSNonRetriableError,
  KafkaJSProducerFencedError,
  KafkaJSProtocolError,
  KafkaJSTransactionAbortableError,
} from '../errors.js';
import { createLogger, logLevel } from '../logger.js';
import { resolveRetry } from '../retry.js';
import {
  type TransactionalRecords,
  TransactionManager,
  type TransactionTransport,
} from './transaction-manager.js';

type Call = { nodeId: number; api: string; body: Record<string, unknown>; maxVersion?: number };
type Answer = Record<string, unknown> | Error;

const apiNames: Record<number, string> = {
  [ApiKey.InitProducerId]: 'InitProducerId',
  [ApiKey.AddPartitionsToTxn]: 'AddPartitionsToTxn',
  [ApiKey.AddOffsetsToTxn]: 'AddOffsetsToTxn',
  [ApiKey.EndTxn]: 'EndTxn',
  [ApiKey.TxnOffsetCommit]: 'TxnOffsetCommit',
};

/**
 * Brokers as a script: each API answers from its queue of answers (the last one repeats), and every
 * request and coordinator lookup is recorded.
 */
class FakeBrokers {
  readonly calls: Call[] = [];
  readonly lookups: { key: string; keyType: number }[] = [];
  /** The coordinator node each lookup answers, in turn (the last repeats). */
  coordinators: number[] = [1];
  /** The finalized transaction.version the coordinator's ApiVersions gives. */
  transactionVersionLevel = 0;
  private readonly answers = new Map<string, Answer[]>();
  private producerEpoch = 0;

  constructor() {
    this.answer('InitProducerId', (body) => ({
      errorCode: 0,
      producerId: 7n,
      // A bump asks with our epoch and gets the next one; a fresh init gets epoch 0.
      producerEpoch: (body.producerEpoch as number) >= 0 ? ++this.producerEpoch : this.producerEpoch,
    }));
    this.answer('AddPartitionsToTxn', (body) => ({
      resultsByTopicV3AndBelow: (body.topics as { name: string; partitions: number[] }[]).map((topic) => ({
        name: topic.name,
        resultsByPartition: topic.partitions.map((partitionIndex) => ({
          partitionIndex,
          partitionErrorCode: 0,
        })),
      })),
    }));
    this.answer('AddOffsetsToTxn', () => ({ errorCode: 0 }));
    this.answer('EndTxn', () => ({ errorCode: 0 }));
    this.answer('TxnOffsetCommit', (body) => ({
      topics: (body.topics as { name: string; partitions: { partitionIndex: number }[] }[]).map((topic) => ({
        name: topic.name,
        partitions: topic.partitions.map(({ partitionIndex }) => ({ partitionIndex, errorCode: 0 })),
      })),
    }));
  }

  private readonly defaults = new Map<string, (body: Record<string, unknown>) => Answer>();

  answer(api: string, make: (body: Record<string, unknown>) => Answer): void {
    this.defaults.set(api, make);
  }

  /** The next answers of `api`, before it goes back to its default. */
  queue(api: string, ...answers: Answer[]): void {
    this.answers.set(api, [...(this.answers.get(api) ?? []), ...answers]);
  }

  readonly transport: TransactionTransport = {
    findCoordinator: async (key, keyType) => {
      this.lookups.push({ key, keyType });
      const nodeId = this.coordinators.length > 1 ? this.coordinators.shift()! : this.coordinators[0]!;
      return nodeId;
    },
    send: (async (nodeId: number, apiKey: number, body: Record<string, unknown>, maxVersion?: number) => {
      const api = apiNames[apiKey]!;
      this.calls.push({ nodeId, api, body, ...(maxVersion === undefined ? {} : { maxVersion }) });
      const queued = this.answers.get(api);
      const answer =
        queued !== undefined && queued.length > 0 ? queued.shift()! : this.defaults.get(api)!(body);
      if (answer instanceof Error) throw answer;
      return answer;
    }) as TransactionTransport['send'],
    transactionVersion: async () => this.transactionVersionLevel,
  };

  apis(): string[] {
    return this.calls.map((call) => call.api);
  }
}

class FakeRecords implements TransactionalRecords {
  sequenceGap = false;
  abandoned: Error[] = [];
  resumed = 0;
  flushes = 0;
  producerIds: [bigint, number][] = [];
  transactionsV2 = false;
  /** What a flush does: a record that fails while the transaction commits... */
  onFlush: () => void = () => undefined;

  async flush(): Promise<void> {
    this.flushes++;
    this.onFlush();
  }
  abandon(error: Error): void {
    this.abandoned.push(error);
  }
  resume(): void {
    this.resumed++;
  }
  useProducerId(producerId: bigint, producerEpoch: number): void {
    this.producerIds.push([producerId, producerEpoch]);
    this.sequenceGap = false;
  }
  useTransactionsV2(on: boolean): void {
    this.transactionsV2 = on;
  }
}

function setUp() {
  const brokers = new FakeBrokers();
  const records = new FakeRecords();
  const manager = new TransactionManager(
    brokers.transport,
    records,
    {
      transactionalId: 'payments',
      transactionTimeoutMs: 30_000,
      retry: resolveRetry({ retries: 4, initialRetryTime: 1, maxRetryTime: 2 }),
    },
    createLogger(logLevel.NOTHING, () => () => undefined),
  );
  return { brokers, records, manager };
}

/**
 * setUp() at a coordinator that finalizes transaction.version 2, whose EndTxn answers the producer's
 * epoch bumped, as KIP-890's coordinator does.
 */
function setUpTransactionsV2() {
  const fixture = setUp();
  fixture.brokers.transactionVersionLevel = 2;
  fixture.brokers.answer('EndTxn', (body) => ({
    errorCode: 0,
    producerId: body.producerId,
    producerEpoch: (body.producerEpoch as number) + 1,
  }));
  return fixture;
}

const partitionA = { topic: 'orders', partition: 0 };
const partitionB = { topic: 'orders', partition: 1 };

describe('TransactionManager', () => {
  it('initializes at the transaction coordinator with the transactional id and timeout, finding it again after NOT_COORDINATOR', async () => {
    const { brokers, records, manager } = setUp();
    brokers.coordinators = [1, 2];
    brokers.queue('InitProducerId', new KafkaJSProtocolError(ErrorCode.NOT_COORDINATOR, 'InitProducerId'));
    await manager.initialize();
    expect(brokers.lookups).toEqual([
      { key: 'payments', keyType: coordinatorKeyType.transaction },
      { key: 'payments', keyType: coordinatorKeyType.transaction },
    ]);
    expect(brokers.calls.map((call) => [call.nodeId, call.api])).toEqual([
      [1, 'InitProducerId'],
      [2, 'InitProducerId'],
    ]);
    expect(brokers.calls[1]!.body).toEqual({
      transactionalId: 'payments',
      transactionTimeoutMs: 30_000,
      producerId: -1n,
      producerEpoch: -1,
    });
    expect(records.producerIds).toEqual([[7n, 0]]);
    expect(manager.state).toBe('ready');
  });

  it('initializes once for callers that come together (a second InitProducerId would fence the first)', async () => {
    const { brokers, manager } = setUp();
    await Promise.all([manager.initialize(), manager.initialize(), manager.initialize()]);
    expect(brokers.apis()).toEqual(['InitProducerId']);
    expect(manager.producerEpoch).toBe(0);
    manager.begin();
    await manager.initialize();
    expect(brokers.apis()).toEqual(['InitProducerId']);
  });

  it('adds each partition once per transaction, in one request for concurrent sends, retrying CONCURRENT_TRANSACTIONS', async () => {
    const { brokers, manager } = setUp();
    await manager.initialize();
    manager.begin();
    brokers.queue('AddPartitionsToTxn', new KafkaJSProtocolError(ErrorCode.CONCURRENT_TRANSACTIONS));
    await Promise.all([manager.addPartitions([partitionA, partitionB]), manager.addPartitions([partitionA])]);
    await manager.addPartitions([partitionB, partitionA]);
    const adds = brokers.calls.filter((call) => call.api === 'AddPartitionsToTxn');
    // The first was answered CONCURRENT_TRANSACTIONS and sent again; nothing else was asked.
    expect(adds).toHaveLength(2);
    expect(adds[1]!.body).toMatchObject({
      transactionalId: 'payments',
      producerId: 7n,
      producerEpoch: 0,
      topics: [{ name: 'orders', partitions: [0, 1] }],
    });
    // The next transaction adds them again.
    await manager.commit();
    manager.begin();
    await manager.addPartitions([partitionA]);
    expect(brokers.calls.filter((call) => call.api === 'AddPartitionsToTxn')).toHaveLength(3);
  });

  it('commits only after every record is answered, and sends no EndTxn for a transaction nothing joined', async () => {
    const { brokers, records, manager } = setUp();
    await manager.initialize();
    manager.begin();
    await manager.commit();
    expect(brokers.apis()).toEqual(['InitProducerId']);
    manager.begin();
    await manager.addPartitions([partitionA]);
    let endTxnBeforeFlush = false;
    records.onFlush = () => {
      endTxnBeforeFlush = brokers.apis().includes('EndTxn');
    };
    await manager.commit();
    expect(endTxnBeforeFlush).toBe(false);
    expect(brokers.calls.at(-1)).toMatchObject({
      api: 'EndTxn',
      body: { transactionalId: 'payments', producerId: 7n, producerEpoch: 0, committed: true },
    });
    expect(manager.state).toBe('ready');
  });

  it('makes the transaction abortable when a record fails: sends, offsets and commit are refused, abort works', async () => {
    const { brokers, records, manager } = setUp();
    await manager.initialize();
    manager.begin();
    await manager.addPartitions([partitionA]);
    manager.recordFailed(new KafkaJSProtocolError(ErrorCode.MESSAGE_TOO_LARGE, 'orders[0]'));
    expect(manager.state).toBe('abortableError');
    // What was still queued is dropped at once.
    expect(records.abandoned[0]).toBeInstanceOf(KafkaJSTransactionAbortableError);
    expect(() => manager.checkCanSend()).toThrow(KafkaJSTransactionAbortableError);
    await expect(manager.addPartitions([partitionB])).rejects.toThrow(KafkaJSTransactionAbortableError);
    await expect(manager.sendOffsets({ consumerGroupId: 'g', topics: [] })).rejects.toThrow(
      KafkaJSTransactionAbortableError,
    );
    await expect(manager.commit()).rejects.toThrow(/must be aborted: MESSAGE_TOO_LARGE/);
    expect(brokers.apis()).not.toContain('EndTxn');
    await manager.abort();
    expect(brokers.calls.at(-1)).toMatchObject({ api: 'EndTxn', body: { committed: false } });
    expect(records.resumed).toBe(1);
    expect(manager.state).toBe('ready');
    // No record was left without an answer: the epoch stays.
    expect(brokers.apis().filter((api) => api === 'InitProducerId')).toHaveLength(1);
    manager.begin();
    await manager.addPartitions([partitionB]);
    await manager.commit();
    expect(brokers.calls.at(-1)).toMatchObject({ api: 'EndTxn', body: { committed: true } });
  });

  it('bumps the epoch with its producer id and epoch after an abort that left a record without an answer', async () => {
    const { brokers, records, manager } = setUp();
    await manager.initialize();
    manager.begin();
    await manager.addPartitions([partitionA]);
    // The sender saw a numbered batch fail (its answer was lost): the broker may hold it.
    records.onFlush = () => {
      records.sequenceGap = true;
    };
    await manager.abort();
    expect(brokers.apis()).toEqual(['InitProducerId', 'AddPartitionsToTxn', 'EndTxn', 'InitProducerId']);
    // EndTxn went under the old epoch, the bump asked with it (KIP-360).
    expect(brokers.calls[2]!.body).toMatchObject({ producerEpoch: 0, committed: false });
    expect(brokers.calls[3]!.body).toMatchObject({
      transactionalId: 'payments',
      producerId: 7n,
      producerEpoch: 0,
    });
    expect(records.producerIds).toEqual([
      [7n, 0],
      [7n, 1],
    ]);
    expect(manager.producerEpoch).toBe(1);
    manager.begin();
    await manager.addPartitions([partitionA]);
    expect(brokers.calls.at(-1)!.body).toMatchObject({ producerEpoch: 1 });
  });

  it('is fenced for good when another producer took the id: every later call rejects with the typed error', async () => {
    const { brokers, records, manager } = setUp();
    await manager.initialize();
    manager.begin();
    await manager.addPartitions([partitionA]);
    brokers.queue('EndTxn', { errorCode: ErrorCode.PRODUCER_FENCED });
    const fenced = await manager.commit().catch((error: unknown) => error);
    expect(fenced).toBeInstanceOf(KafkaJSProducerFencedError);
    expect((fenced as KafkaJSProducerFencedError).type).toBe('PRODUCER_FENCED');
    expect(manager.state).toBe('fatalError');
    expect(records.abandoned.at(-1)).toBe(fenced);
    expect(() => manager.begin()).toThrow(fenced as Error);
    await expect(manager.initialize()).rejects.toBe(fenced);
    await expect(manager.abort()).rejects.toBe(fenced);
    expect(brokers.apis().filter((api) => api === 'InitProducerId')).toHaveLength(1);
  });

  it('takes a produce answered INVALID_PRODUCER_EPOCH as fencing, not as an abortable failure', async () => {
    const { manager } = setUp();
    await manager.initialize();
    manager.begin();
    manager.recordFailed(new KafkaJSProtocolError(ErrorCode.INVALID_PRODUCER_EPOCH, 'orders[0]'));
    expect(manager.state).toBe('fatalError');
    await expect(manager.abort()).rejects.toThrow(/INVALID_PRODUCER_EPOCH/);
  });

  it('fails for good when the transactional id is not authorized', async () => {
    const { brokers, manager } = setUp();
    brokers.queue('InitProducerId', {
      errorCode: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
      producerId: -1n,
      producerEpoch: -1,
    });
    await expect(manager.initialize()).rejects.toThrow(/TRANSACTIONAL_ID_AUTHORIZATION_FAILED/);
    expect(manager.state).toBe('fatalError');
    await expect(manager.initialize()).rejects.toThrow(/TRANSACTIONAL_ID_AUTHORIZATION_FAILED/);
  });

  it('stores offsets through AddOffsetsToTxn once per group, then TxnOffsetCommit at the group coordinator, found again when it moved', async () => {
    const { brokers, manager } = setUp();
    await manager.initialize();
    manager.begin();
    brokers.coordinators = [3, 4];
    brokers.queue('TxnOffsetCommit', new KafkaJSConnectionError('127.0.0.1:9: closed'), {
      topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, errorCode: ErrorCode.NOT_COORDINATOR }] }],
    });
    const offsets = {
      consumerGroupId: 'billing',
      topics: [{ topic: 'orders', partitions: [{ partition: 0, offset: '42' }] }],
    };
    await manager.sendOffsets(offsets);
    // The transaction coordinator (node 1, found at initialize) takes AddOffsetsToTxn; the group's
    // coordinator, looked up by group id, the offsets.
    expect(brokers.calls.slice(1).map((call) => [call.nodeId, call.api])).toEqual([
      [1, 'AddOffsetsToTxn'],
      [3, 'TxnOffsetCommit'],
      [4, 'TxnOffsetCommit'],
      [4, 'TxnOffsetCommit'],
    ]);
    // Looked up again after the lost connection and after NOT_COORDINATOR.
    expect(brokers.lookups.slice(1)).toEqual(
      Array.from({ length: 3 }, () => ({ key: 'billing', keyType: coordinatorKeyType.group })),
    );
    expect(brokers.calls[1]!.body).toMatchObject({ groupId: 'billing', producerId: 7n, producerEpoch: 0 });
    expect(brokers.calls.at(-1)!.body).toMatchObject({
      transactionalId: 'payments',
      groupId: 'billing',
      generationId: -1,
      topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, committedOffset: 42n }] }],
    });
    await manager.sendOffsets(offsets);
    expect(brokers.apis().filter((api) => api === 'AddOffsetsToTxn')).toHaveLength(1);
    // Offsets alone make a transaction: it is ended at the coordinator.
    await manager.commit();
    expect(brokers.calls.at(-1)).toMatchObject({ api: 'EndTxn', body: { committed: true } });
  });

  it('refuses a second transaction while one is open, and records of an ended one', async () => {
    const { manager } = setUp();
    expect(() => manager.begin()).toThrow(/not initialized/);
    await manager.initialize();
    const first = manager.begin();
    expect(() => manager.begin()).toThrow(/already an ongoing transaction/);
    expect(manager.acceptsRecords(first)).toBe(true);
    await manager.abort();
    expect(manager.acceptsRecords(first)).toBe(false);
    expect(() => manager.checkCanSend()).toThrow(KafkaJSNonRetriableError);
    const second = manager.begin();
    expect(manager.acceptsRecords(first)).toBe(false);
    expect(manager.acceptsRecords(second)).toBe(true);
  });

  it('speaks transactions v2 when the coordinator finalizes transaction.version 2: no adds, TxnOffsetCommit v5, EndTxn v5 taking the bumped epoch', async () => {
    const { brokers, records, manager } = setUpTransactionsV2();
    await manager.initialize();
    expect(manager.transactionsV2).toBe(true);
    expect(records.transactionsV2).toBe(true);
    manager.begin();
    await manager.addPartitions([partitionA, partitionB]);
    await manager.sendOffsets({
      consumerGroupId: 'billing',
      topics: [{ topic: 'orders', partitions: [{ partition: 0, offset: 5 }] }],
    });
    await manager.commit();
    expect(brokers.calls.map(({ api, maxVersion }) => [api, maxVersion])).toEqual([
      ['InitProducerId', undefined],
      ['TxnOffsetCommit', 5],
      ['EndTxn', 5],
    ]);
    expect(brokers.calls[2]!.body).toMatchObject({ producerId: 7n, producerEpoch: 0, committed: true });
    // The next transaction runs under the epoch EndTxn answered, its sequences from 0.
    expect(manager.producerEpoch).toBe(1);
    expect(records.producerIds).toEqual([
      [7n, 0],
      [7n, 1],
    ]);
    // An abort that left a record without an answer needs no InitProducerId: the end bumped the epoch.
    manager.begin();
    await manager.addPartitions([partitionA]);
    records.sequenceGap = true;
    await manager.abort();
    expect(brokers.apis().slice(3)).toEqual(['EndTxn']);
    expect(brokers.calls[3]!.body).toMatchObject({ producerEpoch: 1, committed: false });
    expect(manager.producerEpoch).toBe(2);
    expect(manager.state).toBe('ready');
  });

  it('takes TRANSACTION_ABORTABLE (KIP-890) from a record, TxnOffsetCommit or EndTxn as abortable: abort ends it and the next transaction runs', async () => {
    const { brokers, records, manager } = setUpTransactionsV2();
    await manager.initialize();
    const offsets = {
      consumerGroupId: 'billing',
      topics: [{ topic: 'orders', partitions: [{ partition: 0, offset: 5 }] }],
    };
    const refusals: (() => Promise<void>)[] = [
      // Produce v12: the broker found the partition not in the transaction.
      async () =>
        manager.recordFailed(new KafkaJSProtocolError(ErrorCode.TRANSACTION_ABORTABLE, 'orders[0]')),
      async () => {
        brokers.queue('TxnOffsetCommit', {
          topics: [
            {
              name: 'orders',
              partitions: [{ partitionIndex: 0, errorCode: ErrorCode.TRANSACTION_ABORTABLE }],
            },
          ],
        });
        await expect(manager.sendOffsets(offsets)).rejects.toThrow(KafkaJSTransactionAbortableError);
      },
      async () => {
        brokers.queue('EndTxn', {
          errorCode: ErrorCode.TRANSACTION_ABORTABLE,
          producerId: -1n,
          producerEpoch: -1,
        });
        await expect(manager.commit()).rejects.toThrow(/must be aborted: TRANSACTION_ABORTABLE/);
      },
    ];
    for (const refuse of refusals) {
      manager.begin();
      await manager.addPartitions([partitionA]);
      await refuse();
      expect(manager.state).toBe('abortableError');
      expect(records.abandoned.at(-1)).toBeInstanceOf(KafkaJSTransactionAbortableError);
      await expect(manager.commit()).rejects.toThrow(/must be aborted: TRANSACTION_ABORTABLE/);
      const epoch = manager.producerEpoch;
      await manager.abort();
      expect(brokers.calls.at(-1)).toMatchObject({ api: 'EndTxn', body: { committed: false } });
      expect(manager.state).toBe('ready');
      expect(manager.producerEpoch).toBe(epoch + 1);
    }
    // Not fenced: no new InitProducerId, and the next transaction commits.
    manager.begin();
    await manager.addPartitions([partitionA]);
    await manager.commit();
    expect(brokers.calls.at(-1)).toMatchObject({ api: 'EndTxn', body: { committed: true } });
    expect(brokers.apis().filter((api) => api === 'InitProducerId')).toHaveLength(1);
    expect(manager.state).toBe('ready');
  });

  it('stays with the classic protocol below transaction.version 2', async () => {
    const { brokers, records, manager } = setUp();
    brokers.transactionVersionLevel = 1;
    await manager.initialize();
    expect(manager.transactionsV2).toBe(false);
    expect(records.transactionsV2).toBe(false);
    manager.begin();
    await manager.addPartitions([partitionA]);
    await manager.commit();
    expect(brokers.calls.map(({ api, maxVersion }) => [api, maxVersion])).toEqual([
      ['InitProducerId', undefined],
      ['AddPartitionsToTxn', undefined],
      ['EndTxn', undefined],
    ]);
    expect(manager.producerEpoch).toBe(0);
  });
});

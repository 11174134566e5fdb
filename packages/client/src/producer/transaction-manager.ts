// A transactional producer's side of Kafka's transaction protocol (the Java client's
// TransactionManager): the producer id of a transactional id, and each transaction's way from
// begin() to commit() or abort().
//
//   uninitialized --initialize--> ready --begin--> inTransaction --commit--> committing --> ready
//                                                       |   \--abort--> aborting --> ready
//                                 a failed record, an   v
//                                 offset not stored,  abortableError --abort--> aborting --> ready
//                                 TRANSACTION_ABORTABLE
//   PRODUCER_FENCED / INVALID_PRODUCER_EPOCH / TRANSACTIONAL_ID_AUTHORIZATION_FAILED from anywhere
//   --> fatalError (for good: every later call rejects with that error)
//
// Requests go to the transaction coordinator of the transactional id (FindCoordinator with key type
// TRANSACTION), found again after NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE or a lost connection;
// CONCURRENT_TRANSACTIONS and COORDINATOR_LOAD_IN_PROGRESS are retried after a backoff. A partition
// joins the transaction (AddPartitionsToTxn) before its first record is buffered; sendOffsets adds
// the group (AddOffsetsToTxn) and stores the offsets at the group's coordinator (TxnOffsetCommit),
// where they take effect only if the transaction commits. commit() first waits until every record
// of the transaction is acknowledged; abort() drops what was not sent yet and waits for what was.
// A record sent without an answer may still be in the broker's log under its sequence number, so
// after an abort that left one (the sender's sequence gap) the epoch is bumped (InitProducerId with
// the current producer id and epoch, KIP-360): the next transaction starts its sequences at 0 under
// an epoch that record does not have.
//
// Transactions v2 (KIP-890 part 2), used when the coordinator's ApiVersions finalizes
// `transaction.version` at 2 or more (as the Java producer decides): no AddPartitionsToTxn and no
// AddOffsetsToTxn (Produce v12 and TxnOffsetCommit v5 add their partitions themselves), and EndTxn
// v5, whose answer carries the producer id and epoch the next transaction runs under (the
// coordinator bumps the epoch at every end, so no KIP-360 bump is needed after an abort).

import {
  ApiKey,
  coordinatorKeyType,
  ErrorCode,
  type RequestInput,
  type ResponseBody,
} from '@gregor/protocol';
import {
  KafkaJSConnectionError,
  KafkaJSError,
  KafkaJSNonRetriableError,
  KafkaJSNumberOfRetriesExceeded,
  KafkaJSProducerFencedError,
  KafkaJSProtocolError,
  KafkaJSTransactionAbortableError,
} from '../errors.js';
import type { Logger } from '../logger.js';
import { type ResolvedRetry, withRetry } from '../retry.js';

export type TransactionApiKey =
  | typeof ApiKey.InitProducerId
  | typeof ApiKey.AddPartitionsToTxn
  | typeof ApiKey.AddOffsetsToTxn
  | typeof ApiKey.EndTxn
  | typeof ApiKey.TxnOffsetCommit;

/** How the manager reaches the brokers (the Cluster in production, a fake in unit tests). */
export interface TransactionTransport {
  /** The node id of the coordinator of `key` (FindCoordinator, retried while it loads). */
  findCoordinator(key: string, keyType: number): Promise<number>;
  /** At the negotiated version, at most `maxVersion` (the client's preferred one when absent). */
  send<K extends TransactionApiKey>(
    nodeId: number,
    apiKey: K,
    body: RequestInput<K>,
    maxVersion?: number,
  ): Promise<ResponseBody<K>>;
  /** The finalized `transaction.version` in the ApiVersions (v3+) of broker `nodeId`; 0 when none. */
  transactionVersion(nodeId: number): Promise<number>;
}

/** The first `transaction.version` level of transactions v2 (Kafka's TransactionVersion.TV_2). */
export const transactionsV2Level = 2;
/** Request versions of transactions v2 (KIP-890 part 2). */
export const transactionsV2Versions = { produce: 12, txnOffsetCommit: 5, endTxn: 5 } as const;

/** What the manager needs of the producer's sender. */
export interface TransactionalRecords {
  /** Resolves once every record buffered or in flight is acknowledged or failed. */
  flush(): Promise<void>;
  /** Fails every batch not sent yet with `error`, and every batch in flight that would be retried, until resume(). */
  abandon(error: Error): void;
  resume(): void;
  /** A numbered batch failed: the broker may hold it, so its sequences must not be used again. */
  readonly sequenceGap: boolean;
  /** Batches from now on carry this producer id and epoch, their sequences starting at 0. */
  useProducerId(producerId: bigint, producerEpoch: number): void;
  /** Transactions v2: Produce goes at v12 (the broker adds the partition to the transaction). */
  useTransactionsV2(on: boolean): void;
}

export type TransactionState =
  | 'uninitialized'
  | 'ready'
  | 'inTransaction'
  | 'committing'
  | 'aborting'
  | 'abortableError'
  | 'fatalError';

export interface TransactionManagerOptions {
  readonly transactionalId: string;
  /** Java's transaction.timeout.ms (kafkajs's transactionTimeout): the coordinator aborts a transaction older than this. */
  readonly transactionTimeoutMs: number;
  readonly retry: ResolvedRetry;
}

export interface TopicPartition {
  readonly topic: string;
  readonly partition: number;
}

export interface TransactionOffsets {
  readonly consumerGroupId: string;
  readonly topics: readonly {
    readonly topic: string;
    readonly partitions: readonly { readonly partition: number; readonly offset: string | number }[];
  }[];
}

/** Errors after which the producer can never go on: another producer owns the id, or we may not use it. */
const fencedErrors = new Set<number>([ErrorCode.PRODUCER_FENCED, ErrorCode.INVALID_PRODUCER_EPOCH]);
const fatalErrors = new Set<number>([
  ...fencedErrors,
  ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
  ErrorCode.CLUSTER_AUTHORIZATION_FAILED,
  ErrorCode.INVALID_TRANSACTION_TIMEOUT,
]);
/** The coordinator moved or is not there yet: look it up again before retrying. */
const coordinatorMovedErrors = new Set<number>([
  ErrorCode.NOT_COORDINATOR,
  ErrorCode.COORDINATOR_NOT_AVAILABLE,
]);

const partitionKey = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

function protocolError(code: number, context: string): KafkaJSProtocolError {
  return fencedErrors.has(code)
    ? new KafkaJSProducerFencedError(code, context)
    : new KafkaJSProtocolError(code, context);
}

/** The Kafka error code inside an error, unwrapping retries; -1 when there is none. */
function errorCodeOf(error: unknown): number {
  if (error instanceof KafkaJSNumberOfRetriesExceeded) return errorCodeOf(error.cause);
  return error instanceof KafkaJSProtocolError ? error.code : -1;
}

export class TransactionManager {
  private stateValue: TransactionState = 'uninitialized';
  private producerIdValue = -1n;
  private producerEpochValue = -1;
  /** Transactions v2 (KIP-890 part 2): decided at initialization from the coordinator's features. */
  private transactionsV2Value = false;
  private coordinatorNodeId: number | undefined;
  private initializing: Promise<void> | undefined;
  /** Partitions AddPartitionsToTxn added to the current transaction. */
  private readonly partitionsInTransaction = new Set<string>();
  /** AddPartitionsToTxn requests in flight, by partition: concurrent sends share them. */
  private readonly partitionsPending = new Map<string, Promise<void>>();
  /** Groups whose offsets joined the current transaction. */
  private readonly groupsInTransaction = new Set<string>();
  private failure: Error | undefined;
  /** Sends of the current transaction still buffering their records (joining partitions, waiting for memory). */
  private readonly sendsBuffering = new Set<Promise<unknown>>();
  /** Counts transactions, so a send that began in one does not buffer records into the next. */
  private transactionNumber = 0;

  constructor(
    private readonly transport: TransactionTransport,
    private readonly records: TransactionalRecords,
    private readonly options: TransactionManagerOptions,
    private readonly logger: Logger,
  ) {}

  get state(): TransactionState {
    return this.stateValue;
  }

  get producerId(): bigint {
    return this.producerIdValue;
  }

  get producerEpoch(): number {
    return this.producerEpochValue;
  }

  /** Whether this producer speaks transactions v2 (the coordinator finalized transaction.version >= 2). */
  get transactionsV2(): boolean {
    return this.transactionsV2Value;
  }

  get currentTransaction(): number {
    return this.transactionNumber;
  }

  /**
   * Whether records of transaction `transactionNumber` may still be buffered: while it is open, and
   * while commit() waits for the sends that began before it.
   */
  acceptsRecords(transactionNumber: number): boolean {
    return (
      (this.stateValue === 'inTransaction' || this.stateValue === 'committing') &&
      this.transactionNumber === transactionNumber
    );
  }

  /** A send that passed checkCanSend() and is buffering its records: commit() waits for it. */
  trackBuffering(buffering: Promise<unknown>): void {
    this.sendsBuffering.add(buffering);
    const done = () => this.sendsBuffering.delete(buffering);
    buffering.then(done, done);
  }

  /** The producer is fenced or otherwise unusable for good: the error that made it so. */
  get fatalError(): Error | undefined {
    return this.stateValue === 'fatalError' ? this.failure : undefined;
  }

  /** Throws what stops a send in the current state (the fatal or abortable error, or a misuse). */
  checkCanSend(): void {
    if (this.stateValue === 'fatalError' || this.stateValue === 'abortableError') throw this.failure!;
    if (this.stateValue !== 'inTransaction') {
      throw new KafkaJSNonRetriableError(`cannot send records while the transaction is ${this.stateValue}`);
    }
  }

  /** InitProducerId for the transactional id (once; later transactions reuse the id and epoch). */
  async initialize(): Promise<void> {
    if (this.stateValue === 'fatalError') throw this.failure!;
    if (this.stateValue !== 'uninitialized') return;
    // Callers that come while it runs share it: a second InitProducerId would bump the epoch and
    // fence the first answer's holder (this very producer).
    this.initializing ??= this.initializeNow().finally(() => {
      this.initializing = undefined;
    });
    return this.initializing;
  }

  private async initializeNow(): Promise<void> {
    try {
      await this.initProducerId(-1n, -1);
      const level = await this.coordinatorRequest('ApiVersions', (nodeId) =>
        this.transport.transactionVersion(nodeId),
      );
      this.transactionsV2Value = level >= transactionsV2Level;
      this.records.useTransactionsV2(this.transactionsV2Value);
      this.stateValue = 'ready';
    } catch (error) {
      this.failFatallyIf(error);
      throw error;
    }
  }

  begin(): number {
    if (this.stateValue === 'fatalError') throw this.failure!;
    if (this.stateValue === 'uninitialized') {
      throw new KafkaJSNonRetriableError('the transactional producer is not initialized');
    }
    if (this.stateValue !== 'ready') {
      throw new KafkaJSNonRetriableError(
        'There is already an ongoing transaction for this producer. Please end the transaction before beginning another.',
      );
    }
    this.partitionsInTransaction.clear();
    this.partitionsPending.clear();
    this.groupsInTransaction.clear();
    this.failure = undefined;
    this.transactionNumber++;
    this.stateValue = 'inTransaction';
    return this.transactionNumber;
  }

  /** Adds the partitions not yet in the transaction (one AddPartitionsToTxn for all of them). */
  async addPartitions(partitions: readonly TopicPartition[]): Promise<void> {
    // A send that began before commit() still adds its partitions (commit waits for it).
    if (this.stateValue !== 'committing') this.checkCanSend();
    const waits: Promise<void>[] = [];
    const toAdd = new Map<string, TopicPartition>();
    for (const { topic, partition } of partitions) {
      const key = partitionKey(topic, partition);
      if (this.partitionsInTransaction.has(key) || toAdd.has(key)) continue;
      const pending = this.partitionsPending.get(key);
      if (pending !== undefined) waits.push(pending);
      else toAdd.set(key, { topic, partition });
    }
    if (toAdd.size > 0) {
      const adding = this.addPartitionsNow([...toAdd.values()]);
      for (const key of toAdd.keys()) this.partitionsPending.set(key, adding);
      const cleanUp = () => {
        for (const key of toAdd.keys()) {
          if (this.partitionsPending.get(key) === adding) this.partitionsPending.delete(key);
        }
      };
      adding.then(cleanUp, cleanUp);
      waits.push(adding);
    }
    await Promise.all(waits);
  }

  private async addPartitionsNow(partitions: readonly TopicPartition[]): Promise<void> {
    if (this.transactionsV2Value) {
      // Transactions v2: the partition leader has the coordinator add it at the first Produce v12.
      for (const { topic, partition } of partitions)
        this.partitionsInTransaction.add(partitionKey(topic, partition));
      return;
    }
    const byTopic = new Map<string, number[]>();
    for (const { topic, partition } of partitions)
      byTopic.set(topic, [...(byTopic.get(topic) ?? []), partition]);
    const transactionNumber = this.transactionNumber;
    try {
      await this.coordinatorRequest('AddPartitionsToTxn', async (nodeId) => {
        const response = await this.transport.send(nodeId, ApiKey.AddPartitionsToTxn, {
          transactionalId: this.options.transactionalId,
          producerId: this.producerIdValue,
          producerEpoch: this.producerEpochValue,
          topics: [...byTopic].map(([name, partitionIndexes]) => ({ name, partitions: partitionIndexes })),
        });
        // OPERATION_NOT_ATTEMPTED marks the partitions left out because another one failed.
        const failed = response.resultsByTopicV3AndBelow
          .flatMap((topic) => topic.resultsByPartition.map((result) => ({ topic: topic.name, ...result })))
          .filter((result) => result.partitionErrorCode !== 0);
        const cause =
          failed.find((result) => result.partitionErrorCode !== ErrorCode.OPERATION_NOT_ATTEMPTED) ??
          failed[0];
        if (cause !== undefined) {
          throw protocolError(
            cause.partitionErrorCode,
            `AddPartitionsToTxn ${cause.topic}[${cause.partitionIndex}]`,
          );
        }
      });
    } catch (error) {
      if (this.transactionNumber === transactionNumber) this.fail(error as Error);
      throw this.failure ?? error;
    }
    if (this.transactionNumber !== transactionNumber) return;
    for (const { topic, partition } of partitions)
      this.partitionsInTransaction.add(partitionKey(topic, partition));
  }

  /** AddOffsetsToTxn, then TxnOffsetCommit at the group's coordinator. */
  async sendOffsets(offsets: TransactionOffsets): Promise<void> {
    this.checkCanSend();
    const { consumerGroupId: groupId, topics } = offsets;
    if (typeof groupId !== 'string' || groupId.length === 0) {
      throw new KafkaJSNonRetriableError('sendOffsets needs a consumerGroupId');
    }
    const transactionNumber = this.transactionNumber;
    try {
      // Transactions v2: TxnOffsetCommit v5 has the group's offsets partition added by the broker.
      if (!this.groupsInTransaction.has(groupId) && this.transactionsV2Value) {
        this.groupsInTransaction.add(groupId);
      } else if (!this.groupsInTransaction.has(groupId)) {
        await this.coordinatorRequest('AddOffsetsToTxn', async (nodeId) => {
          const response = await this.transport.send(nodeId, ApiKey.AddOffsetsToTxn, {
            transactionalId: this.options.transactionalId,
            producerId: this.producerIdValue,
            producerEpoch: this.producerEpochValue,
            groupId,
          });
          if (response.errorCode !== 0) throw protocolError(response.errorCode, `AddOffsetsToTxn ${groupId}`);
        });
        this.groupsInTransaction.add(groupId);
      }
      let groupCoordinator: number | undefined;
      await withRetry(
        this.options.retry,
        async () => {
          groupCoordinator ??= await this.transport.findCoordinator(groupId, coordinatorKeyType.group);
          const response = await this.transport.send(
            groupCoordinator,
            ApiKey.TxnOffsetCommit,
            {
              transactionalId: this.options.transactionalId,
              groupId,
              producerId: this.producerIdValue,
              producerEpoch: this.producerEpochValue,
              generationId: -1,
              memberId: '',
              groupInstanceId: null,
              topics: topics.map(({ topic, partitions }) => ({
                name: topic,
                partitions: partitions.map(({ partition, offset }) => ({
                  partitionIndex: partition,
                  committedOffset: BigInt(offset),
                  committedLeaderEpoch: -1,
                  committedMetadata: null,
                })),
              })),
            },
            this.transactionsV2Value ? transactionsV2Versions.txnOffsetCommit : undefined,
          );
          for (const topic of response.topics) {
            for (const partition of topic.partitions) {
              if (partition.errorCode !== 0) {
                throw protocolError(
                  partition.errorCode,
                  `TxnOffsetCommit ${groupId} ${topic.name}[${partition.partitionIndex}]`,
                );
              }
            }
          }
        },
        (error) => {
          if (coordinatorMoved(error)) groupCoordinator = undefined;
        },
      );
    } catch (error) {
      if (this.transactionNumber === transactionNumber) this.fail(error as Error);
      throw this.failure ?? error;
    }
  }

  /** Waits for every record of the transaction, then EndTxn(commit). */
  async commit(): Promise<void> {
    if (this.stateValue === 'fatalError' || this.stateValue === 'abortableError') throw this.failure!;
    // A commit whose EndTxn ran out of retries may be asked again: the outcome was not known.
    if (this.stateValue !== 'inTransaction' && this.stateValue !== 'committing') {
      throw new KafkaJSNonRetriableError(`cannot commit while the transaction is ${this.stateValue}`);
    }
    this.stateValue = 'committing';
    await Promise.allSettled([...this.sendsBuffering]);
    await Promise.allSettled([...this.partitionsPending.values()]);
    await this.records.flush();
    // A record that failed while flushing made the transaction abortable (or the producer fenced).
    if ((this.stateValue as TransactionState) !== 'committing') throw this.failure!;
    await this.endTransaction(true);
    this.stateValue = 'ready';
  }

  /** Drops the records not sent, waits for those sent, EndTxn(abort), and bumps the epoch if a record's fate is unknown. */
  async abort(): Promise<void> {
    if (this.stateValue === 'fatalError') throw this.failure!;
    if (
      this.stateValue !== 'inTransaction' &&
      this.stateValue !== 'abortableError' &&
      this.stateValue !== 'aborting'
    ) {
      throw new KafkaJSNonRetriableError(`cannot abort while the transaction is ${this.stateValue}`);
    }
    this.stateValue = 'aborting';
    this.records.abandon(
      new KafkaJSNonRetriableError('the transaction was aborted before this record was sent'),
    );
    try {
      // Sends still buffering stop at their next record (acceptsRecords is false now).
      await Promise.allSettled([...this.sendsBuffering]);
      await Promise.allSettled([...this.partitionsPending.values()]);
      await this.records.flush();
      await this.endTransaction(false);
      // Transactions v2 bumped the epoch at the end already: the unanswered record's epoch is fenced.
      if (this.records.sequenceGap && !this.transactionsV2Value) await this.bumpEpoch();
      this.stateValue = 'ready';
    } catch (error) {
      this.failFatallyIf(error);
      throw error;
    } finally {
      this.records.resume();
    }
  }

  private async bumpEpoch(): Promise<void> {
    this.logger.info('bumping the producer epoch: a record of the aborted transaction had no answer', {
      transactionalId: this.options.transactionalId,
    });
    try {
      await this.initProducerId(this.producerIdValue, this.producerEpochValue);
    } catch (error) {
      // The next transaction() initializes again (InitProducerId without our id bumps the epoch too).
      if (!fatalErrors.has(errorCodeOf(error))) this.stateValue = 'uninitialized';
      throw error;
    }
  }

  private async endTransaction(committed: boolean): Promise<void> {
    const nothingToEnd = this.partitionsInTransaction.size === 0 && this.groupsInTransaction.size === 0;
    // The coordinator never heard of a transaction nothing was added to (Java sends no EndTxn either).
    if (!nothingToEnd) {
      try {
        const response = await this.coordinatorRequest('EndTxn', async (nodeId) => {
          const answer = await this.transport.send(
            nodeId,
            ApiKey.EndTxn,
            {
              transactionalId: this.options.transactionalId,
              producerId: this.producerIdValue,
              producerEpoch: this.producerEpochValue,
              committed,
            },
            this.transactionsV2Value ? transactionsV2Versions.endTxn : undefined,
          );
          if (answer.errorCode !== 0) {
            throw protocolError(answer.errorCode, `EndTxn(${committed ? 'commit' : 'abort'})`);
          }
          return answer;
        });
        // Transactions v2: the next transaction runs under the bumped epoch (or a new producer id).
        if (this.transactionsV2Value && response.producerId >= 0n) {
          this.producerIdValue = response.producerId;
          this.producerEpochValue = response.producerEpoch;
          this.records.useProducerId(response.producerId, response.producerEpoch);
        }
      } catch (error) {
        // Out of retries, the outcome is unknown: the caller may ask again. TRANSACTION_ABORTABLE
        // (EndTxn v4+, KIP-890) leaves the transaction to abort, as the Java client's EndTxnHandler
        // does. Anything else is final.
        if (errorCodeOf(error) === ErrorCode.TRANSACTION_ABORTABLE) this.fail(error as Error);
        else if (!(error instanceof KafkaJSNumberOfRetriesExceeded)) this.fail(error as Error, true);
        this.failFatallyIf(error);
        throw this.failure ?? error;
      }
    }
  }

  /** A record of the transaction was not acknowledged: the transaction can only abort (or the producer is fenced). */
  recordFailed(error: Error): void {
    if (this.stateValue === 'inTransaction' || this.stateValue === 'committing') this.fail(error);
  }

  private fail(error: Error, alwaysFatal = false): void {
    if (this.stateValue === 'fatalError') return;
    if (alwaysFatal || fatalErrors.has(errorCodeOf(error))) {
      this.failFatallyIf(error, true);
      return;
    }
    if (this.stateValue === 'aborting') return;
    this.failure =
      error instanceof KafkaJSTransactionAbortableError ? error : new KafkaJSTransactionAbortableError(error);
    this.stateValue = 'abortableError';
    this.records.abandon(this.failure);
    this.logger.warn('the transaction must be aborted', { error: error.message });
  }

  private failFatallyIf(error: unknown, force = false): void {
    if (this.stateValue === 'fatalError') return;
    if (!force && !fatalErrors.has(errorCodeOf(error))) return;
    const cause = error instanceof KafkaJSNumberOfRetriesExceeded ? (error.cause as Error) : (error as Error);
    // A produce answered with the fencing codes comes from the sender as a plain protocol error.
    const code = errorCodeOf(cause);
    this.failure =
      fencedErrors.has(code) && !(cause instanceof KafkaJSProducerFencedError)
        ? new KafkaJSProducerFencedError(code, cause.message.replace(/^[A-Z_]+: /, ''))
        : cause;
    this.stateValue = 'fatalError';
    this.records.abandon(this.failure);
    this.logger.error('the transactional producer cannot go on', { error: this.failure.message });
  }

  private async initProducerId(producerId: bigint, producerEpoch: number): Promise<void> {
    const response = await this.coordinatorRequest('InitProducerId', async (nodeId) => {
      const answer = await this.transport.send(nodeId, ApiKey.InitProducerId, {
        transactionalId: this.options.transactionalId,
        transactionTimeoutMs: this.options.transactionTimeoutMs,
        producerId,
        producerEpoch,
      });
      if (answer.errorCode !== 0) throw protocolError(answer.errorCode, 'InitProducerId');
      return answer;
    });
    this.producerIdValue = response.producerId;
    this.producerEpochValue = response.producerEpoch;
    this.records.useProducerId(response.producerId, response.producerEpoch);
    this.logger.debug('transactional producer id', {
      transactionalId: this.options.transactionalId,
      producerId: String(response.producerId),
      producerEpoch: response.producerEpoch,
    });
  }

  /** A request to the transaction coordinator, found (again) as needed, retried while retriable. */
  private coordinatorRequest<T>(what: string, request: (nodeId: number) => Promise<T>): Promise<T> {
    return withRetry(
      this.options.retry,
      async () => {
        this.coordinatorNodeId ??= await this.transport.findCoordinator(
          this.options.transactionalId,
          coordinatorKeyType.transaction,
        );
        return request(this.coordinatorNodeId);
      },
      (error) => {
        this.logger.debug(`${what} retried`, { error: (error as Error).message });
        if (coordinatorMoved(error)) this.coordinatorNodeId = undefined;
      },
    );
  }
}

function coordinatorMoved(error: unknown): boolean {
  return (
    error instanceof KafkaJSConnectionError ||
    (error instanceof KafkaJSProtocolError && coordinatorMovedErrors.has(error.code)) ||
    (error instanceof KafkaJSError && error.retriable && !(error instanceof KafkaJSProtocolError))
  );
}

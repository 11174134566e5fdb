// Produce on the leader (Kafka's ReplicaManager.appendRecords with its DelayedProduce): each record
// set is validated once (log-validator.ts: checked, stored in the topic's codec, stamped, described),
// appended with the idempotent-producer checks from that description, and answered at once (acks 0
// and 1) or once the high watermark covers it (acks=all, waiting in the purgatory;
// @gregor/replication's acks rules).
//
// KIP-890 part 1 (transaction.partition.verification.enable): a transactional record set whose
// producer has no transaction open on the partition is first verified with the transaction
// coordinator (transaction-verification.ts), under a guard the producer state hands out before the
// question and checks at the append (producer-state.ts). Client appends only: the coordinators'
// own (markers, transactional offsets) are not verified at the append; the group coordinator's
// offsets are asked about before it stores them (verifyOffsetsInTransaction, TxnOffsetCommit).
// The question is asynchronous, and a connection's requests are handled concurrently: so that a
// producer's record sets for a partition still reach the idempotent append queue (where the
// sequence and duplicate checks run, against the state the earlier appends left) in the order they
// arrived, each waits, after its own question, for the producer's previous one to have entered it.
// Otherwise a second batch answered first would be appended before the first (a producer the
// partition does not know yet may start at any sequence), and the first refused as out of order.

import type { Clock } from '@gregor/ground';
import { ErrorCode, KafkaError, type RecordError, RecordValidationError } from '@gregor/protocol';
import { awaitReplication, checkEnoughReplicas, type ReplicationWait } from '@gregor/replication';
import { LogClosedError } from '@gregor/storage';
import type { DelayedOperations } from '../delayed/delayed-operations.js';
import type { LocalReplicas } from './local-replicas.js';
import { type AppendOrigin, type LogAppendInfo, validateProducedRecordSet } from './log-validator.js';
import type { Partition } from './partition.js';
import { hasProducerState, type TransactionVerification } from './producer-state.js';
import { IdempotentLeaderAppends, type LeaderAppendOutcome } from './producer-state-append.js';
import {
  type TransactionVerificationRequest,
  type TransactionVerifier,
  verificationErrorForProduce,
} from './transaction-verification.js';

export interface AppendRequest {
  readonly topic: string;
  readonly partition: number;
  readonly records: Buffer | null;
  /** The Produce's transactional id (v3+), for KIP-890's verification; null or absent when none. */
  readonly transactionalId?: string | null;
  /**
   * Transactions v2 (Produce v12+): a transactional batch whose producer has no transaction open on
   * the partition is added to the transaction by the coordinator before it is appended.
   */
  readonly addToTransaction?: boolean;
  /**
   * The client knows TRANSACTION_ABORTABLE (Produce v11+, KIP-890): a partition the coordinator
   * says is not in the transaction is answered with it rather than INVALID_TXN_STATE.
   */
  readonly transactionAbortable?: boolean;
}

export interface AppendResult {
  readonly topic: string;
  readonly partition: number;
  readonly errorCode: number;
  readonly errorMessage: string | null;
  /**
   * The records that refused the set (KIP-467: keyless ones on a compacted topic), by index in
   * their batch; empty otherwise. Produce v8+ answers them as record_errors.
   */
  readonly recordErrors: readonly RecordError[];
  /** -1 on error. */
  readonly baseOffset: number;
  /** The append time under LogAppendTime, -1 under CreateTime or on error. */
  readonly logAppendTimeMs: number;
  /** -1 on error. */
  readonly logStartOffset: number;
  /** Records appended (from the validation: the batches' headers), 0 on error. */
  readonly recordCount: number;
}

export interface LeaderAppendsOptions {
  readonly replicas: LocalReplicas;
  readonly clock: Clock;
  readonly delayedOperations: DelayedOperations;
  readonly replicaLagTimeMaxMs: number;
}

export class LeaderAppends {
  /** Leader appends of idempotent producers: checked, appended and remembered in order per partition. */
  private readonly idempotentAppends = new IdempotentLeaderAppends();
  private readonly replicationWait: ReplicationWait<Partition>;
  /** The transaction coordinators' client (a broker with a transaction coordinator). */
  private transactionVerifier: TransactionVerifier | undefined;
  /** transaction.partition.verification.enable: classic (v1) produces are verified too. */
  private verifyClassicTransactions = false;
  /**
   * Per partition and producer, the latest client record set on its way (through verification) to
   * the append queue: settles once it entered the queue or was answered without it.
   */
  private readonly entering = new Map<string, Promise<void>>();

  constructor(private readonly options: LeaderAppendsOptions) {
    const { replicas } = options;
    this.replicationWait = {
      clock: options.clock,
      delayedOperations: options.delayedOperations,
      replicaLagTimeMaxMs: options.replicaLagTimeMaxMs,
      stillLeads: (partition, leaderEpoch) => replicas.stillLeads(partition, leaderEpoch),
      lostLeadershipError: (partition) => replicas.lostLeadershipError(partition),
    };
  }

  /**
   * The coordinators' client for KIP-890: transactions-v2 produces are always added through it;
   * classic ones are verified only with `verifyClassic` (transaction.partition.verification.enable).
   */
  useTransactionVerifier(verifier: TransactionVerifier | undefined, verifyClassic = true): void {
    this.transactionVerifier = verifier;
    this.verifyClassicTransactions = verifyClassic;
  }

  /**
   * KIP-890 for an append the group coordinator makes for a producer, its transactional offsets
   * (TxnOffsetCommit; Kafka's maybeStartTransactionVerificationForPartition): asks the transaction
   * coordinator whether the offsets partition is in the producer's ongoing transaction, or with
   * `addToTransaction` (TxnOffsetCommit v5+) has it added. Resolves the coordinator's error code;
   * NONE when nothing is to be asked (a classic question with
   * transaction.partition.verification.enable off), COORDINATOR_NOT_AVAILABLE for an add without a
   * coordinators' client.
   */
  verifyOffsetsInTransaction(request: TransactionVerificationRequest): Promise<number> {
    const verifier = this.transactionVerifier;
    const adds = request.addToTransaction === true;
    if (verifier === undefined) {
      return Promise.resolve(adds ? ErrorCode.COORDINATOR_NOT_AVAILABLE : ErrorCode.NONE);
    }
    if (!adds && !this.verifyClassicTransactions) return Promise.resolve(ErrorCode.NONE);
    return verifier.verify(request);
  }

  /**
   * Appends each record set as leader. acks=-1 waits (up to `timeoutMs`) until the high watermark
   * covers the appended records; acks 0 and 1 answer once the local append is done. `acks` must be
   * 0, 1 or -1 (the Produce handler answers INVALID_REQUIRED_ACKS otherwise).
   */
  appendRecords(
    requests: readonly AppendRequest[],
    acks: number,
    timeoutMs: number,
    origin: AppendOrigin = 'client',
  ): Promise<AppendResult[]> {
    return Promise.all(requests.map((request) => this.appendOne(request, acks, timeoutMs, origin)));
  }

  private async appendOne(
    request: AppendRequest,
    acks: number,
    timeoutMs: number,
    origin: AppendOrigin,
  ): Promise<AppendResult> {
    const { replicas, clock } = this.options;
    const failed = (
      errorCode: number,
      errorMessage: string | null = null,
      recordErrors: readonly RecordError[] = [],
    ): AppendResult => ({
      topic: request.topic,
      partition: request.partition,
      errorCode,
      errorMessage,
      recordErrors,
      baseOffset: -1,
      logAppendTimeMs: -1,
      logStartOffset: -1,
      recordCount: 0,
    });
    const lookup = replicas.lookupLeader(request.topic, request.partition);
    if (!lookup.ok) return failed(lookup.errorCode);
    const partition = lookup.partition;
    const config = partition.log.config;
    if (request.records === null) return failed(ErrorCode.CORRUPT_MESSAGE, 'null record set');
    if (acks === -1) {
      const enough = checkEnoughReplicas(
        partition,
        clock.nowMs(),
        this.options.replicaLagTimeMaxMs,
        config.minInsyncReplicas,
      );
      if (enough.errorCode !== ErrorCode.NONE) return failed(enough.errorCode, enough.errorMessage);
    }
    const leaderEpoch = partition.leaderEpoch;
    let info: LogAppendInfo;
    let appended: LeaderAppendOutcome;
    try {
      let nowMs = clock.nowMs();
      info = validateProducedRecordSet(request.records, config, nowMs, {
        origin,
        topicPartition: `${request.topic}-${request.partition}`,
      });
      const verifier = this.transactionVerifier;
      // Transactions v2 (Produce v12+) always asks, to add the partition; classic produces only
      // with transaction.partition.verification.enable.
      const asks = request.addToTransaction === true || this.verifyClassicTransactions;
      const producer = info.batches.find(hasProducerState);
      if (verifier === undefined || origin !== 'client' || producer === undefined || !asks) {
        appended = await this.idempotentAppends.append(partition, info, leaderEpoch, nowMs, origin);
      } else {
        const key = `${partition.key}/${producer.producerId}`;
        const previous = this.entering.get(key);
        let entered = () => {};
        const entry = new Promise<void>((resolve) => {
          entered = resolve;
        });
        this.entering.set(key, entry);
        let queued: Promise<LeaderAppendOutcome>;
        try {
          const verified = await verifyTransaction(verifier, request, partition, info, nowMs);
          await previous;
          if ('errorCode' in verified) return failed(verified.errorCode, verified.message);
          nowMs = clock.nowMs();
          queued = this.idempotentAppends.append(partition, info, leaderEpoch, nowMs, origin, verified);
        } finally {
          entered();
          if (this.entering.get(key) === entry) this.entering.delete(key);
        }
        appended = await queued;
      }
    } catch (error) {
      if (error instanceof KafkaError) {
        if (error.code === ErrorCode.KAFKA_STORAGE_ERROR) replicas.onStorageError(partition, error);
        if (error instanceof RecordValidationError) {
          return failed(error.code, error.message, error.recordErrors);
        }
        return failed(error.code, error.message);
      }
      // The partition was deleted or moved while the append waited for the log.
      if (error instanceof LogClosedError) return failed(ErrorCode.NOT_LEADER_OR_FOLLOWER);
      throw error;
    }
    if (!replicas.stillLeads(partition, leaderEpoch)) return failed(replicas.lostLeadershipError(partition));
    partition.onLeaderAppend();
    this.options.delayedOperations.notify(partition.key);
    const success: AppendResult = {
      topic: request.topic,
      partition: request.partition,
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      recordErrors: [],
      baseOffset: appended.baseOffset,
      logAppendTimeMs: info.logAppendTimeMs,
      logStartOffset: appended.logStartOffset,
      recordCount: info.recordCount,
    };
    if (acks !== -1) return success;
    const replicated = await awaitReplication(
      partition,
      leaderEpoch,
      appended.lastOffset + 1,
      timeoutMs,
      config.minInsyncReplicas,
      this.replicationWait,
    );
    return replicated.errorCode === ErrorCode.NONE
      ? success
      : failed(replicated.errorCode, replicated.errorMessage);
  }
}

/**
 * KIP-890: asks the coordinator about the record set's transactional producer when it has no
 * transaction open on `partition`, holding the guard taken before the question. A record set without
 * a transactional batch needs nothing; one without a transactional id cannot be verified and is
 * refused by the append check (no guard), as in Kafka.
 */
async function verifyTransaction(
  verifier: TransactionVerifier,
  request: AppendRequest,
  partition: Partition,
  info: LogAppendInfo,
  nowMs: number,
): Promise<TransactionVerification | { errorCode: number; message: string }> {
  const batch = info.batches.find((candidate) => candidate.isTransactional && hasProducerState(candidate));
  if (batch === undefined) return { required: true, guard: undefined };
  const transactionalId = request.transactionalId ?? null;
  if (transactionalId === null || transactionalId === '') return { required: true, guard: undefined };
  const guard = partition.producerState.startVerification(batch.producerId, nowMs);
  if (guard === undefined) return { required: true, guard };
  const coordinatorError = await verifier.verify({
    transactionalId,
    producerId: batch.producerId,
    producerEpoch: batch.producerEpoch,
    topic: request.topic,
    partition: request.partition,
    addToTransaction: request.addToTransaction === true,
  });
  if (coordinatorError !== ErrorCode.NONE) {
    return verificationErrorForProduce(coordinatorError, request.transactionAbortable === true);
  }
  return { required: true, guard };
}

// What producer.transaction() returns, in kafkajs's shape: send, sendBatch, sendOffsets, commit,
// abort, isActive. Once it ended (committed or aborted) every call rejects as kafkajs's does; after
// a fatal error (fenced...) every call rejects with that error.

import { KafkaJSNonRetriableError } from '../errors.js';
import type { ProducerBatchRecord, ProducerRecord } from './producer.js';
import type { RecordMetadata } from './producer-batch.js';
import type { TransactionManager, TransactionOffsets } from './transaction-manager.js';

export class Transaction {
  private ended = false;

  constructor(
    private readonly manager: TransactionManager,
    private readonly transactionNumber: number,
    private readonly produce: (batch: ProducerBatchRecord) => Promise<RecordMetadata[]>,
  ) {}

  /** True from transaction() until commit() or abort() succeeded (also while only abort() is allowed). */
  isActive(): boolean {
    if (this.ended || this.manager.currentTransaction !== this.transactionNumber) return false;
    const state = this.manager.state;
    return (
      state === 'inTransaction' ||
      state === 'committing' ||
      state === 'aborting' ||
      state === 'abortableError'
    );
  }

  private async guard<T>(call: () => Promise<T>): Promise<T> {
    if (this.manager.state === 'fatalError') this.manager.checkCanSend();
    if (!this.isActive()) throw new KafkaJSNonRetriableError('Cannot continue to use transaction once ended');
    return call();
  }

  send(record: ProducerRecord): Promise<RecordMetadata[]> {
    return this.guard(() =>
      this.produce({
        topicMessages: [{ topic: record.topic, messages: record.messages }],
        acks: record.acks,
        timeout: record.timeout,
        compression: record.compression,
      }),
    );
  }

  sendBatch(batch: ProducerBatchRecord): Promise<RecordMetadata[]> {
    return this.guard(() => this.produce(batch));
  }

  /** Stores a consumer group's offsets as part of the transaction: they count only if it commits. */
  sendOffsets(offsets: TransactionOffsets): Promise<void> {
    return this.guard(() => this.manager.sendOffsets(offsets));
  }

  commit(): Promise<void> {
    return this.guard(async () => {
      await this.manager.commit();
      this.ended = true;
    });
  }

  abort(): Promise<void> {
    return this.guard(async () => {
      await this.manager.abort();
      this.ended = true;
    });
  }
}

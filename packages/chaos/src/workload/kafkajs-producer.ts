// A Node producer (kafkajs) of the campaign: one lane per partition, each sending small batches in
// order at its share of the rate, recording every record's invoke and outcome. With acks=all it is
// idempotent (kafkajs then allows one request in flight per broker); with acks=1 it is not.

import { Kafka, logLevel, type Producer } from 'kafkajs';
import type { HistoryEvent, SendEvent } from '../history.js';
import type { KafkajsSecurity } from '../security.js';
import { monoMs } from './time.js';

export interface KafkajsProducerOptions {
  readonly name: string;
  readonly bootstrap: string;
  readonly topic: string;
  readonly partitions: number;
  /** Records per second, over all partitions. */
  readonly rate: number;
  readonly acks: 'all' | '1';
  /** SASL_SSL: kafkajs's `ssl` and `sasl`; PLAINTEXT when undefined. */
  readonly security?: KafkajsSecurity;
}

/** Records in one send of one lane. */
const batchRecords = 4;
/** After this many failed sends in a row, a non-idempotent producer is made anew. */
const failuresBeforeNewProducer = 3;

/**
 * Whether a producer is made anew after `consecutiveFailures` failed sends. An idempotent kafkajs
 * producer is, after every failed send: kafkajs gives the failed batch's sequence numbers back
 * (sendMessages.js), and its next batch of the partition goes out with them. When the failed batch
 * had been written after all (its answer lost, or NOT_LEADER_OR_FOLLOWER from a leader whose lease
 * ran out after the append), the broker takes the new batch for a retry of that one and
 * acknowledges it at that batch's offset without writing it, as Kafka's brokers do: acknowledged
 * records that are never written. A new producer has a new producer id and starts again at 0.
 */
export function renewsProducer(idempotent: boolean, consecutiveFailures: number): boolean {
  return consecutiveFailures >= (idempotent ? 1 : failuresBeforeNewProducer);
}

/**
 * How long a lane's first connection may take: a broker whose lease has just lapsed closes a
 * connection after its Metadata answer, which fails kafkajs's connect; the next try goes elsewhere.
 */
const startConnectWaitMs = 30_000;
const connectRetryDelayMs = 500;

async function connectWithin(producer: Producer, waitMs: number): Promise<void> {
  const deadline = monoMs() + waitMs;
  for (;;) {
    try {
      await producer.connect();
      return;
    } catch (error) {
      if (monoMs() >= deadline) throw error;
      await new Promise((done) => setTimeout(done, connectRetryDelayMs));
    }
  }
}

/** One ordered lane: a partition's sends, on a producer of its own. */
interface Lane {
  producer: Producer;
  consecutiveFailures: number;
}

export class KafkajsProducer {
  private stopping = false;
  private seq = 0;
  private readonly kafka: Kafka;
  private lanes: Lane[] = [];
  private running: Array<Promise<void>> = [];

  constructor(
    private readonly options: KafkajsProducerOptions,
    private readonly sink: (event: HistoryEvent) => void,
  ) {
    this.kafka = new Kafka({
      clientId: options.name,
      brokers: options.bootstrap.split(','),
      logLevel: logLevel.NOTHING,
      connectionTimeout: 3_000,
      requestTimeout: 10_000,
      retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 2_000 },
      ...options.security,
    });
  }

  private get idempotent(): boolean {
    return this.options.acks === 'all';
  }

  private newProducer(): Producer {
    return this.kafka.producer(
      this.idempotent
        ? { idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false }
        : { allowAutoTopicCreation: false },
    );
  }

  /**
   * Each partition's lane has a producer of its own: a lane's producer is made anew after failures
   * (renewsProducer) while no other lane is sending on it. Disconnecting a producer shared by the
   * lanes under their in-flight sends made kafkajs resolve some of them with no answer for their
   * partition (nothing written), and retry others under a new producer id (written twice).
   */
  async start(): Promise<void> {
    for (let partition = 0; partition < this.options.partitions; partition++) {
      const lane: Lane = { producer: this.newProducer(), consecutiveFailures: 0 };
      await connectWithin(lane.producer, startConnectWaitMs);
      this.lanes.push(lane);
    }
    this.running = this.lanes.map((lane, partition) => this.lane(lane, partition));
  }

  private event(
    type: SendEvent['type'],
    partition: number,
    value: string,
    extra: Partial<SendEvent> = {},
  ): SendEvent {
    return {
      f: 'send',
      type,
      process: this.options.name,
      partition,
      value,
      acks: this.options.acks,
      idempotent: this.idempotent,
      wallMs: Date.now(),
      monoMs: monoMs(),
      ...extra,
    };
  }

  private async lane(lane: Lane, partition: number): Promise<void> {
    const intervalMs = (1_000 * batchRecords * this.options.partitions) / this.options.rate;
    let nextAt = monoMs();
    while (!this.stopping) {
      const values = Array.from({ length: batchRecords }, () => `${this.options.name}#${this.seq++}`);
      for (const value of values) this.sink(this.event('invoke', partition, value));
      let answered = false;
      try {
        const [metadata] = await lane.producer.send({
          topic: this.options.topic,
          acks: this.options.acks === 'all' ? -1 : 1,
          messages: values.map((value) => ({ partition, value })),
        });
        if (metadata === undefined) {
          // kafkajs resolved the send without any broker's answer for the partition: not an
          // acknowledgement, so whether it was written is unknown.
          for (const value of values)
            this.sink(this.event('info', partition, value, { error: 'send resolved without an answer' }));
        } else {
          const baseOffset = Number(metadata.baseOffset);
          values.forEach((value, index) => {
            this.sink(this.event('ok', partition, value, { offset: baseOffset + index }));
          });
          answered = true;
        }
      } catch (error) {
        for (const value of values)
          this.sink(this.event('fail', partition, value, { error: describe(error) }));
      }
      if (answered) lane.consecutiveFailures = 0;
      else if (renewsProducer(this.idempotent, ++lane.consecutiveFailures) && !this.stopping)
        await this.renew(lane);
      nextAt += intervalMs;
      const waitMs = nextAt - monoMs();
      if (waitMs > 0) await sleep(waitMs);
      else nextAt = monoMs();
    }
  }

  /** A lane whose sends failed gets a producer anew (as an application would). */
  private async renew(lane: Lane): Promise<void> {
    const old = lane.producer;
    lane.producer = this.newProducer();
    lane.consecutiveFailures = 0;
    await old.disconnect().catch(() => undefined);
    await lane.producer.connect().catch(() => undefined);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.running);
    await Promise.all(this.lanes.map((lane) => lane.producer.disconnect().catch(() => undefined)));
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`.slice(0, 300);
  return String(error).slice(0, 300);
}

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

// lingerMs: the default, 0, is kafkajs's send semantics: a send() goes at once, with no timer to
// wait for, and the sends called together in one turn of the event loop still share one batch and
// one Produce request; 5 (Java's and librdkafka's, the default until 2026-12-07) holds a send()
// for its linger timer. The clock
// and timers are fake and advanced only where a test says so, so a send that waits for a linger
// deadline does not go before; the leader (a scripted one) answers a turn later.

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Cluster } from '../cluster.js';
import { createLogger, logLevel } from '../logger.js';
import { SizeLimitedProduceCluster } from '../testing/size-limited-produce-cluster.js';
import { Producer, type ProducerConfig } from './producer.js';

/** Turns of the event loop a send may take to be answered: InitProducerId, the drain, the answer. */
const turnsMax = 50;

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

async function setUp(config: ProducerConfig) {
  const cluster = new SizeLimitedProduceCluster(1, 1_048_588);
  const producer = new Producer(
    cluster as unknown as Cluster,
    createLogger(logLevel.NOTHING, () => () => undefined),
    1_000,
    config,
  );
  await producer.connect();
  return { cluster, producer };
}

/** Whether `promise` settles within `turnsMax` turns of the event loop (no timer fires meanwhile). */
async function settlesWithoutTimers(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  void promise.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  for (let turn = 0; turn < turnsMax && !settled; turn++) await nextTurn();
  return settled;
}

describe('lingerMs', () => {
  beforeEach(() => {
    // setImmediate stays real: the sender drains on it and the scripted leader answers on it.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('defaults to 0: a send() goes at once, as kafkajs does, no linger timer has to fire', async () => {
    const { cluster, producer } = await setUp({});
    const sent = producer.send({ topic: 'events', messages: [{ value: 'one' }] });
    expect(await settlesWithoutTimers(sent)).toBe(true);
    expect(cluster.log(0).map((record) => record.value)).toEqual(['one']);
    await producer.disconnect();
  });

  it('by default still gathers the sends called in the same turn into one batch and one request', async () => {
    const { cluster, producer } = await setUp({});
    // A first send: the producer id is taken and the leader knows it (until then an idempotent
    // producer sends a partition one batch at a time anyway).
    await settlesWithoutTimers(producer.send({ topic: 'events', messages: [{ value: 'first' }] }));
    // The bench's window: 20 sends of 100 records, awaited together.
    const sends = Array.from({ length: 20 }, (_, send) =>
      producer.send({
        topic: 'events',
        messages: Array.from({ length: 100 }, (_, index) => ({ value: `${send}-${index}` })),
      }),
    );
    expect(await settlesWithoutTimers(Promise.all(sends))).toBe(true);
    expect(cluster.answers.map(({ records, errorCode }) => ({ records, errorCode }))).toEqual([
      { records: 1, errorCode: 0 },
      { records: 2_000, errorCode: 0 },
    ]);
    await producer.disconnect();
  });

  it('lingers when asked to: with lingerMs 5 (Java and librdkafka) a send waits for its timer', async () => {
    const { cluster, producer } = await setUp({ lingerMs: 5 });
    const sent = producer.send({ topic: 'events', messages: [{ value: 'one' }] });
    expect(await settlesWithoutTimers(sent)).toBe(false);
    expect(cluster.answers).toEqual([]);
    await vi.advanceTimersByTimeAsync(5);
    await sent;
    expect(cluster.log(0).map((record) => record.value)).toEqual(['one']);
    await producer.disconnect();
  });
});

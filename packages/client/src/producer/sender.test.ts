// The sender over a scripted cluster whose Produce answers wait for the test: a partition with
// several ready batches has as many in flight as maxInFlightRequests allows, one per request, in
// sequence order, without waiting for an answer first.

import { waitFor } from '@gregor/ground/testing';
import { describe, expect, it } from 'vitest';
import type { Cluster } from '../cluster.js';
import { createLogger, logLevel } from '../logger.js';
import { ScriptedProduceCluster } from '../testing/scripted-produce-cluster.js';
import { Producer } from './producer.js';

async function until(condition: () => boolean): Promise<void> {
  await waitFor(String(condition), condition, { timeoutMs: 2_000, intervalMs: 1 });
}

/** Lets every pending setImmediate (the sender's drains) and the promises they settle run. */
async function settle(): Promise<void> {
  for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setImmediate(resolve));
}

describe('Sender', () => {
  it('sends the ready batches of one partition up to maxInFlightRequests at once, then one per answer', async () => {
    const cluster = new ScriptedProduceCluster(1);
    // A batch of 100 bytes is full with one record of 121: each record is a batch of its own.
    const producer = new Producer(
      cluster as unknown as Cluster,
      createLogger(logLevel.NOTHING, () => () => undefined),
      1_000,
      { batchSize: 100, lingerMs: 0, maxInFlightRequests: 3 },
    );
    await producer.connect();
    const values = ['a', 'b', 'c', 'd', 'e'].map((letter) => letter.repeat(100));
    const sent = producer.send({ topic: 'events', acks: 1, messages: values.map((value) => ({ value })) });

    await until(() => cluster.produces.length === 3);
    await settle();
    // Three in flight, in order, and the other two wait for an answer (the limit, not the drain).
    expect(cluster.produces.map((call) => call.partitions.map((p) => p.values))).toEqual([
      [[values[0]]],
      [[values[1]]],
      [[values[2]]],
    ]);
    cluster.produces.shift()!.answer();
    await until(() => cluster.produces.length === 3);
    await settle();
    expect(cluster.produces.map((call) => call.partitions[0]!.values[0])).toEqual([
      values[1],
      values[2],
      values[3],
    ]);
    while (cluster.produces.length > 0 || producer.bufferedBytes > 0) {
      cluster.answerAll();
      await settle();
    }
    const metadata = await sent;
    expect(metadata).toEqual([expect.objectContaining({ topicName: 'events', partition: 0, errorCode: 0 })]);
    await producer.disconnect();
  });
});

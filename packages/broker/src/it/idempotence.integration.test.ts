// librdkafka's idempotent producer (kcat -X enable.idempotence=true) against three broker
// processes: it gets a producer id through InitProducerId, its batches carry producer id, epoch and
// sequence numbers, and the log holds every record once, in order, on every replica.

import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type WaitForOptions, waitFor } from '@gregor/ground/testing';
import { ErrorCode, readBatchHeader } from '@gregor/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessCluster } from '../testing/process-cluster.js';
import { RawClusterClient } from '../testing/raw-cluster-client.js';

const kcatTimeoutMs = 60_000;
const waitTimeoutMs = 60_000;

let cluster: ProcessCluster;
let client: RawClusterClient;

beforeAll(async () => {
  cluster = await ProcessCluster.start({
    nodeCount: 3,
    properties: { 'auto.create.topics.enable': 'false' },
  });
  client = new RawClusterClient(cluster);
});
afterAll(async () => {
  client?.close();
  await cluster?.close();
});

const waitOptions: WaitForOptions = {
  timeoutMs: waitTimeoutMs,
  intervalMs: 100,
  detail: () => cluster.tail(40),
};

/** Producer id, epoch and base sequence of every batch in `topic-0` on `nodeId`'s disk. */
function producerFieldsOnDisk(nodeId: number, topic: string): { producerId: number; baseSequence: number }[] {
  const dir = join(cluster.node(nodeId).dataDir, 'logs', `${topic}-0`);
  const fields: { producerId: number; baseSequence: number }[] = [];
  for (const name of readdirSync(dir)
    .filter((file) => file.endsWith('.log'))
    .sort()) {
    const bytes = readFileSync(join(dir, name));
    for (let position = 0; position + 61 <= bytes.length; ) {
      const header = readBatchHeader(bytes, position);
      fields.push({ producerId: header.producerId, baseSequence: header.baseSequence });
      position += header.sizeBytes;
    }
  }
  return fields;
}

describe('idempotent producers on three processes', () => {
  it('kcat with enable.idempotence=true stores every record once, with producer ids and sequences', async () => {
    const topic = 'kcat-idempotent';
    await waitFor(
      `topic ${topic}`,
      async () => {
        const code = await client.createTopic(1, topic, 1, 3, { 'min.insync.replicas': '2' });
        return code === ErrorCode.NONE || code === ErrorCode.TOPIC_ALREADY_EXISTS ? true : undefined;
      },
      waitOptions,
    );
    const view = await waitFor(
      'an ISR of three',
      async () => {
        const seen = await client.partition(topic, 0);
        return seen !== undefined && seen.leaderId >= 0 && seen.isr.length === 3 ? seen : undefined;
      },
      waitOptions,
    );
    const recordCount = 5_000;
    const lines = Array.from({ length: recordCount }, (_, i) => `n${i}`);
    execFileSync(
      'kcat',
      [
        '-b',
        `127.0.0.1:${cluster.node(1).kafkaPort}`,
        '-P',
        '-t',
        topic,
        '-p',
        '0',
        '-X',
        'enable.idempotence=true',
        '-X',
        'linger.ms=5',
        '-X',
        'batch.num.messages=100',
      ],
      { input: `${lines.join('\n')}\n`, timeout: kcatTimeoutMs, stdio: ['pipe', 'pipe', 'pipe'] },
    );
    const read = await waitFor(
      'every record below the high watermark',
      async () => {
        const result = await client.readAll(view.leaderId, topic, 0);
        return result.errorCode === ErrorCode.NONE && result.highWatermark >= recordCount
          ? result
          : undefined;
      },
      waitOptions,
    );
    expect(read.records.map((record) => record.value)).toEqual(lines);

    // librdkafka sent its batches as one idempotent producer, sequences following each other.
    const fields = producerFieldsOnDisk(view.leaderId, topic);
    expect(fields.length).toBeGreaterThan(1);
    const producerIds = new Set(fields.map((field) => field.producerId));
    expect(producerIds.size).toBe(1);
    expect([...producerIds][0]).toBeGreaterThanOrEqual(0);
    expect(fields[0]!.baseSequence).toBe(0);
    for (let i = 1; i < fields.length; i++)
      expect(fields[i]!.baseSequence).toBeGreaterThan(fields[i - 1]!.baseSequence);
  });

  it('hands out different producer ids on different brokers, from blocks the controller recorded', async () => {
    const ids: number[] = [];
    for (const node of cluster.nodes) {
      for (let call = 0; call < 3; call++) {
        const answer = await waitFor(
          `a producer id from node ${node.id}`,
          async () => {
            const result = await client.initProducerId(node.id);
            return result.errorCode === ErrorCode.NONE ? result : undefined;
          },
          waitOptions,
        );
        expect(answer.producerEpoch).toBe(0);
        ids.push(answer.producerId);
      }
    }
    expect(new Set(ids).size).toBe(ids.length);
  });
});

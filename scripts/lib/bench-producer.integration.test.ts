// The replication benchmark's acks=0 cell (runAcksZero) against a real broker process: it must
// count only what it wrote, see every record it wrote become readable, and, when records are
// missing, say where and why: a connection the broker closed (acks=0's only failure signal, as in
// Kafka) told apart from a loss on a connection it kept open.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs module without types
import { BenchCluster } from './bench-cluster.mjs';
// @ts-expect-error: a plain .mjs module without types
import * as producer from './bench-producer.mjs';

const { acksZeroRefusals, createTopic, encodeValueBatch, openConnection, runAcksZero, topicMetadata } =
  producer;

interface Connection {
  close(): void;
}

const valueBytes = 100;
const recordsPerBatch = 20;

let cluster: {
  nodes: { id: number; address: string }[];
  warnings: { nodeId: number; entry: { msg: string; reason?: string } }[];
  close(): Promise<void>;
};
let connections: Map<number, Connection>;
let addresses: Map<number, string>;

beforeAll(async () => {
  cluster = await BenchCluster.start({ nodeCount: 1 });
  const node = cluster.nodes[0]!;
  connections = new Map([[node.id, await openConnection(node.address)]]);
  addresses = new Map([[node.id, node.address]]);
}, 90_000);

afterAll(async () => {
  for (const connection of connections?.values() ?? []) connection.close();
  await cluster?.close();
});

async function topicWith(name: string, configs: Record<string, string> = {}) {
  const admin = connections.get(cluster.nodes[0]!.id)!;
  await createTopic(admin, name, 2, 1, configs);
  for (;;) {
    const metadata = await topicMetadata(admin, name);
    if (metadata.errorCode === 0 && metadata.partitions.every((p: { leader: number }) => p.leader >= 0))
      return metadata.partitions as { partition: number; leader: number }[];
    await new Promise((done) => setTimeout(done, 50));
  }
}

function run(topic: string, partitions: { partition: number; leader: number }[]) {
  return runAcksZero({
    connections,
    addresses,
    topic,
    partitions,
    batch: encodeValueBatch(valueBytes, recordsPerBatch),
    recordsPerBatch,
    valueBytes,
    durationMs: 300,
    bytesMax: Number.POSITIVE_INFINITY,
  });
}

describe('runAcksZero (bench:replication acks=0 cells)', () => {
  it('counts every record it wrote as readable on a healthy broker', async () => {
    const result = await run('acks0-healthy', await topicWith('acks0-healthy'));
    expect(result.acksZero.sentRecords).toBeGreaterThan(0);
    expect(result.records).toBe(result.acksZero.sentRecords);
    expect(result.errors).toBe(0);
    expect(result.firstError).toBeUndefined();
    expect(result.acksZero.closedConnections).toEqual([]);
  }, 60_000);

  it('reports records of a refused acks=0 Produce as lost on a connection the broker closed', async () => {
    // Every batch is larger than the topic takes: the first Produce fails, and the broker closes
    // the connection instead of answering (Kafka's rule for acks=0).
    const topic = 'acks0-refused';
    const result = await run(topic, await topicWith(topic, { 'max.message.bytes': '100' }));
    // Only what went into the socket before the broker closed it counts as sent, at least the
    // refused request; nothing became readable.
    expect(result.acksZero.sentRecords).toBeGreaterThanOrEqual(2 * recordsPerBatch);
    expect(result.records).toBe(0);
    expect(result.errors).toBe(1);
    expect(result.acksZero.silentMissing).toBe(0);
    expect(result.acksZero.closedConnections).toHaveLength(1);
    expect(result.firstError).toMatch(
      /^[\d,]+ of [\d,]+ records never readable, lost on connections the broker closed/,
    );
    expect(result.firstError).toContain('partition 0 (leader 1) short');
    expect(result.firstError).toContain('partition 1 (leader 1) short');
    expect(result.firstError).toContain('broker 1 closed the connection');
    // The broker says why, naming the partitions and their error.
    const reasons = cluster.warnings
      .filter((warning) => warning.entry.msg === 'closing client connection')
      .map((warning) => warning.entry.reason);
    expect(reasons).toContain(
      `a Produce with acks=0 failed: ${topic}-0 MESSAGE_TOO_LARGE, ${topic}-1 MESSAGE_TOO_LARGE`,
    );
    // Every request written was either refused (logged) or never read: together, all that is missing.
    const [refusal] = acksZeroRefusals(result.acksZero.closedConnections, cluster.warnings, topic);
    expect(refusal.refused).toBeGreaterThanOrEqual(1);
    expect(refusal.refusedRecords).toBe(refusal.refused * 2 * recordsPerBatch);
    expect(refusal.refusedRecords + refusal.neverReadRecords).toBe(result.acksZero.missing);
  }, 60_000);
});

// Replication across three real broker processes: acks=all survives kill -9 of the leader, the
// replicas' logs end up identical, min.insync.replicas refuses writes it could not protect, and a
// follower that stops fetching leaves the ISR and comes back.
//
// The producer here is NOT idempotent (idempotence comes later): a batch whose answer was lost is
// sent again, so a record may appear more than once, but only right after its retry point. The
// checks are: every acknowledged record is present, the first copies appear in send order, and a
// value appears twice only if it was retried.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode, readBatchHeader } from '@gregor/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessCluster } from '../testing/process-cluster.js';
import { RawClusterClient } from '../testing/raw-cluster-client.js';

const waitTimeoutMs = 60_000;

let describeCluster: () => string = () => '';

async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = waitTimeoutMs,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what} ${lastError}\n${describeCluster()}`);
}

function sorted(ids: readonly number[]): number[] {
  return [...ids].sort((a, b) => a - b);
}

/** The record batches of a partition's log on `nodeId`'s disk, below `highWatermark`, as bytes. */
function batchesOnDisk(
  cluster: ProcessCluster,
  nodeId: number,
  topic: string,
  highWatermark: number,
): Buffer[] {
  const dir = join(cluster.node(nodeId).dataDir, 'logs', `${topic}-0`);
  const segments = readdirSync(dir)
    .filter((name) => name.endsWith('.log'))
    .sort();
  const batches: Buffer[] = [];
  for (const name of segments) {
    const bytes = readFileSync(join(dir, name));
    let position = 0;
    while (position + 61 <= bytes.length) {
      const header = readBatchHeader(bytes, position);
      if (header.lastOffset >= highWatermark) return batches;
      batches.push(bytes.subarray(position, position + header.sizeBytes));
      position += header.sizeBytes;
    }
  }
  return batches;
}

describe('replication on three processes', () => {
  let cluster: ProcessCluster;
  let client: RawClusterClient;

  beforeAll(async () => {
    cluster = await ProcessCluster.start({
      nodeCount: 3,
      properties: { 'replica.lag.time.max.ms': '3000', 'auto.create.topics.enable': 'false' },
    });
    client = new RawClusterClient(cluster);
    describeCluster = () => cluster.tail(40);
  });
  afterAll(async () => {
    client?.close();
    await cluster?.close();
  });

  async function createReplicatedTopic(topic: string): Promise<void> {
    await waitFor(`topic ${topic}`, async () => {
      const code = await client
        .createTopic(1, topic, 1, 3, { 'min.insync.replicas': '2' })
        .catch((error: unknown) => {
          client.drop(1);
          throw error;
        });
      return code === ErrorCode.NONE || code === ErrorCode.TOPIC_ALREADY_EXISTS ? true : undefined;
    });
  }

  /** Waits until every running node agrees on a live leader and the ISR has `isrSize` members. */
  async function waitForIsr(topic: string, isrSize: number): Promise<{ leaderId: number; isr: number[] }> {
    return waitFor(`${topic} ISR of ${isrSize}`, async () => {
      const running = cluster.nodes.filter((node) => node.process !== undefined).map((node) => node.id);
      const views = await Promise.all(running.map((id) => client.partition(topic, 0, [id])));
      const first = views[0];
      if (first === undefined || first.leaderId < 0 || first.isr.length !== isrSize) return undefined;
      const agreed = views.every(
        (view) =>
          view !== undefined && view.leaderId === first.leaderId && view.leaderEpoch === first.leaderEpoch,
      );
      return agreed ? { leaderId: first.leaderId, isr: sorted(first.isr) } : undefined;
    });
  }

  it('copies acks=all records to every replica and serves them from a new leader after kill -9', async () => {
    const topic = 'basic';
    await createReplicatedTopic(topic);
    const { leaderId } = await waitForIsr(topic, 3);
    for (let batch = 0; batch < 10; batch++) {
      const values = Array.from({ length: 10 }, (_, i) => `v${batch * 10 + i}`);
      const outcome = await client.produce(leaderId, topic, 0, values, -1);
      expect(outcome.errorCode).toBe(ErrorCode.NONE);
      expect(outcome.baseOffset).toBe(batch * 10);
    }
    const before = await client.readAll(leaderId, topic, 0);
    expect(before.highWatermark).toBe(100);
    expect(before.records.map((record) => record.value)).toEqual(
      Array.from({ length: 100 }, (_, i) => `v${i}`),
    );

    await cluster.kill(leaderId);
    client.drop(leaderId);
    const next = await waitFor('a new leader', async () => {
      const view = await client.partition(topic, 0);
      return view !== undefined && view.leaderId >= 0 && view.leaderId !== leaderId ? view : undefined;
    });
    expect(next.isr).not.toContain(leaderId);
    const after = await waitFor('the new leader serving every record', async () => {
      const read = await client.readAll(next.leaderId, topic, 0);
      return read.errorCode === ErrorCode.NONE && read.highWatermark === 100 ? read : undefined;
    });
    expect(after.records.map((record) => record.value)).toEqual(before.records.map((record) => record.value));

    const more = await client.produce(next.leaderId, topic, 0, ['after-failover'], -1);
    expect(more).toEqual({ errorCode: ErrorCode.NONE, baseOffset: 100 });
    cluster.restart(leaderId);
    await waitForIsr(topic, 3);
  });

  it('loses no acknowledged record while the leader is killed with -9 ten times', async () => {
    const topic = 'churn';
    await createReplicatedTopic(topic);
    await waitForIsr(topic, 3);

    const acknowledged: number[] = [];
    const retried = new Set<number>();
    let nextValue = 0;
    let stopProducing = false;
    const batchSize = 5;
    const producer = (async () => {
      while (!stopProducing) {
        const values = Array.from({ length: batchSize }, (_, i) => nextValue + i);
        let sent = false;
        for (let attempt = 0; !sent && !stopProducing; attempt++) {
          if (attempt > 0) for (const value of values) retried.add(value);
          const view = await client.partition(topic, 0).catch(() => undefined);
          if (view === undefined || view.leaderId < 0) {
            await new Promise((resolve) => setTimeout(resolve, 50));
            continue;
          }
          try {
            const outcome = await client.produce(
              view.leaderId,
              topic,
              0,
              values.map((value) => `n${value}`),
              -1,
              5_000,
            );
            if (outcome.errorCode === ErrorCode.NONE) sent = true;
            else await new Promise((resolve) => setTimeout(resolve, 50));
          } catch {
            client.drop(view.leaderId);
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
        }
        if (sent) {
          acknowledged.push(...values);
          nextValue += batchSize;
        }
      }
    })();

    const failovers: number[] = [];
    for (let kill = 0; kill < 10; kill++) {
      const ackedBefore = acknowledged.length;
      const { leaderId } = await waitForIsr(topic, 3);
      await waitFor('records acknowledged since the last kill', async () =>
        acknowledged.length >= ackedBefore + 20 ? true : undefined,
      );
      const killedAtMs = Date.now();
      await cluster.kill(leaderId);
      client.drop(leaderId);
      const ackedAtKill = acknowledged.length;
      await waitFor('an acknowledgement from the next leader', async () =>
        acknowledged.length > ackedAtKill ? true : undefined,
      );
      failovers.push(Date.now() - killedAtMs);
      cluster.restart(leaderId);
    }
    stopProducing = true;
    await producer;

    const { leaderId } = await waitForIsr(topic, 3);
    // Every replica has every record and knows the final high watermark once all fetched again.
    const final = await client.readAll(leaderId, topic, 0);
    expect(final.errorCode).toBe(ErrorCode.NONE);
    const values = final.records.map((record) => Number(record.value.slice(1)));
    const seen = new Set<number>();
    const firstCopies: number[] = [];
    for (const value of values) {
      if (seen.has(value)) {
        expect(retried.has(value), `n${value} appears twice but was never retried`).toBe(true);
        continue;
      }
      seen.add(value);
      firstCopies.push(value);
    }
    for (const value of acknowledged) expect(seen.has(value), `acknowledged n${value} lost`).toBe(true);
    // First copies are in send order: the producer sends one batch at a time.
    expect(firstCopies).toEqual([...firstCopies].sort((a, b) => a - b));

    const highWatermark = final.highWatermark;
    await waitFor('every replica holding the whole log', async () => {
      const logs = cluster.nodes.map((node) =>
        Buffer.concat(batchesOnDisk(cluster, node.id, topic, highWatermark)),
      );
      const reference = logs[0]!;
      return logs.every((log) => log.equals(reference)) && reference.length > 0 ? true : undefined;
    });
    console.log(
      `churn: ${acknowledged.length} records acknowledged, ${values.length - seen.size} duplicate(s) from retries, ` +
        `failover (kill to next ack) ms: ${failovers.join(', ')}`,
    );
  });

  it('refuses acks=all with NOT_ENOUGH_REPLICAS when two of three are down, and loses nothing', async () => {
    const topic = 'min-isr';
    await createReplicatedTopic(topic);
    const { leaderId } = await waitForIsr(topic, 3);
    const first = await client.produce(leaderId, topic, 0, ['a', 'b', 'c'], -1);
    expect(first.errorCode).toBe(ErrorCode.NONE);

    const others = cluster.nodes.map((node) => node.id).filter((id) => id !== leaderId);
    for (const id of others) {
      await cluster.kill(id);
      client.drop(id);
    }
    // The leader stays (it is alive and in the ISR); the ISR shrinks to it alone once the controller
    // fences the two dead brokers... unless the quorum lost its majority, in which case the ISR
    // cannot change and the high watermark cannot move: either way no acks=all write succeeds.
    const refused = await waitFor('acks=all refused', async () => {
      const outcome = await client.produce(leaderId, topic, 0, ['refused'], -1, 2_000).catch(() => undefined);
      if (outcome === undefined) return undefined;
      return outcome.errorCode !== ErrorCode.NONE ? outcome.errorCode : undefined;
    });
    expect([
      ErrorCode.NOT_ENOUGH_REPLICAS,
      ErrorCode.REQUEST_TIMED_OUT,
      ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND,
    ]).toContain(refused);

    for (const id of others) cluster.restart(id);
    const { leaderId: nextLeader } = await waitForIsr(topic, 3);
    const after = await client.produce(nextLeader, topic, 0, ['d'], -1);
    expect(after.errorCode).toBe(ErrorCode.NONE);
    const read = await client.readAll(nextLeader, topic, 0);
    const values = read.records.map((record) => record.value);
    expect(values.slice(0, 3)).toEqual(['a', 'b', 'c']);
    expect(values[values.length - 1]).toBe('d');
  });
});

// Replication across three real broker processes: acks=all survives kill -9 of the leader, the
// replicas' logs end up identical, min.insync.replicas refuses writes it could not protect, and a
// follower that stops fetching leaves the ISR and comes back.
//
// The kill -9 test uses an idempotent producer (InitProducerId, then batches carrying producer id,
// epoch and sequence): a batch whose answer was lost is sent again, byte for byte, until it is
// acknowledged, and the log must hold every acknowledged record exactly once, in send order.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type WaitForOptions, waitFor } from '@gregor/ground/testing';
import { ErrorCode, readBatchHeader } from '@gregor/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessCluster } from '../testing/process-cluster.js';
import { RawClusterClient } from '../testing/raw-cluster-client.js';

const waitTimeoutMs = 60_000;
/**
 * Leader kills in the churn test: each kill, failover and restart (back in the ISR) takes 3.5 to 7 s
 * on the 2-core machine. Ten were run until 2026-12-06; six still kill a leader under a producer
 * retrying its idempotent batches every time, and the chaos campaigns kill leaders and controllers
 * under real clients besides.
 */
const leaderKills = 6;

let describeCluster: () => string = () => '';

const waitOptions: WaitForOptions = {
  timeoutMs: waitTimeoutMs,
  intervalMs: 100,
  detail: () => describeCluster(),
};

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
    await waitFor(
      `topic ${topic}`,
      async () => {
        const code = await client
          .createTopic(1, topic, 1, 3, { 'min.insync.replicas': '2' })
          .catch((error: unknown) => {
            client.drop(1);
            throw error;
          });
        return code === ErrorCode.NONE || code === ErrorCode.TOPIC_ALREADY_EXISTS ? true : undefined;
      },
      waitOptions,
    );
  }

  /** Waits until every running node agrees on a live leader and the ISR has `isrSize` members. */
  async function waitForIsr(topic: string, isrSize: number): Promise<{ leaderId: number; isr: number[] }> {
    return waitFor(
      `${topic} ISR of ${isrSize}`,
      async () => {
        const running = cluster.nodes.filter((node) => node.process !== undefined).map((node) => node.id);
        const views = await Promise.all(running.map((id) => client.partition(topic, 0, [id])));
        const first = views[0];
        if (first === undefined || first.leaderId < 0 || first.isr.length !== isrSize) return undefined;
        // Every node, the leader included, must have applied the same ISR: a leader still acting on
        // the old one answers acks=all by it.
        const agreed = views.every(
          (view) =>
            view !== undefined &&
            view.leaderId === first.leaderId &&
            view.leaderEpoch === first.leaderEpoch &&
            sorted(view.isr).join() === sorted(first.isr).join(),
        );
        return agreed ? { leaderId: first.leaderId, isr: sorted(first.isr) } : undefined;
      },
      waitOptions,
    );
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
    const next = await waitFor(
      'a new leader',
      async () => {
        const view = await client.partition(topic, 0);
        return view !== undefined && view.leaderId >= 0 && view.leaderId !== leaderId ? view : undefined;
      },
      waitOptions,
    );
    expect(next.isr).not.toContain(leaderId);
    const after = await waitFor(
      'the new leader serving every record',
      async () => {
        const read = await client.readAll(next.leaderId, topic, 0);
        return read.errorCode === ErrorCode.NONE && read.highWatermark === 100 ? read : undefined;
      },
      waitOptions,
    );
    expect(after.records.map((record) => record.value)).toEqual(before.records.map((record) => record.value));

    const more = await client.produce(next.leaderId, topic, 0, ['after-failover'], -1);
    expect(more).toEqual({ errorCode: ErrorCode.NONE, baseOffset: 100 });
    await cluster.restart(leaderId);
    await waitForIsr(topic, 3);
  });

  it('hands leadership to an ISR member on SIGTERM, and moves it back to the preferred replica after the return', async () => {
    const topic = 'handover';
    await createReplicatedTopic(topic);
    const { leaderId } = await waitForIsr(topic, 3);
    const preferred = (await client.partition(topic, 0))!.replicas[0]!;
    expect(leaderId).toBe(preferred);
    expect((await client.produce(leaderId, topic, 0, ['before'], -1)).errorCode).toBe(ErrorCode.NONE);
    expect(await cluster.stop(leaderId)).toBe(0);
    client.drop(leaderId);
    const moved = await waitFor(
      'leadership moved by controlled shutdown',
      async () => {
        const view = await client.partition(topic, 0);
        return view !== undefined && view.leaderId >= 0 && view.leaderId !== leaderId ? view : undefined;
      },
      waitOptions,
    );
    expect((await client.produce(moved.leaderId, topic, 0, ['during'], -1)).errorCode).toBe(ErrorCode.NONE);
    await cluster.restart(leaderId);
    const back = await waitFor(
      'the preferred replica leading again',
      async () => {
        const view = await client.partition(topic, 0);
        return view?.leaderId === preferred && view.isr.length === 3 ? view : undefined;
      },
      waitOptions,
    );
    const read = await waitFor(
      'the preferred leader serving',
      async () => {
        const result = await client.readAll(back.leaderId, topic, 0).catch(() => {
          client.drop(back.leaderId);
          return undefined;
        });
        return result?.errorCode === ErrorCode.NONE && result.highWatermark >= 2 ? result : undefined;
      },
      waitOptions,
    );
    expect(read.records.map((record) => record.value)).toEqual(['before', 'during']);
  });

  it(`keeps every acknowledged record exactly once, in order, while the leader is killed with -9 ${leaderKills} times`, async () => {
    const topic = 'churn';
    await createReplicatedTopic(topic);
    await waitForIsr(topic, 3);
    const producer = await waitFor(
      'a producer id',
      async () => {
        const running = cluster.nodes.find((node) => node.process !== undefined)!.id;
        const answer = await client.initProducerId(running);
        return answer.errorCode === ErrorCode.NONE ? answer : undefined;
      },
      waitOptions,
    );

    const acknowledged: number[] = [];
    let retries = 0;
    let nextValue = 0;
    let stopProducing = false;
    const batchSize = 5;
    const producing = (async () => {
      while (!stopProducing) {
        const values = Array.from({ length: batchSize }, (_, i) => nextValue + i);
        // Built once: every retry sends the same producer id, epoch and sequence numbers.
        const records = RawClusterClient.idempotentBatch(
          producer,
          nextValue,
          values.map((value) => `n${value}`),
        );
        // A batch is retried until acknowledged, even once the test wants to stop: an abandoned
        // batch could sit in the log unacknowledged.
        const deadlineMs = Date.now() + waitTimeoutMs;
        for (let attempt = 0; ; attempt++) {
          if (Date.now() > deadlineMs)
            throw new Error(`n${nextValue} never acknowledged\n${describeCluster()}`);
          if (attempt > 0) retries++;
          const view = await client.partition(topic, 0).catch(() => undefined);
          if (view === undefined || view.leaderId < 0) {
            await new Promise((resolve) => setTimeout(resolve, 50));
            continue;
          }
          let outcome: { errorCode: number; baseOffset: number };
          try {
            outcome = await client.produceRecords(view.leaderId, topic, 0, records, -1, 5_000);
          } catch {
            client.drop(view.leaderId);
            await new Promise((resolve) => setTimeout(resolve, 50));
            continue;
          }
          if (outcome.errorCode === ErrorCode.NONE) break;
          // Sequence and epoch refusals would mean the broker lost track of this producer.
          expect([ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, ErrorCode.INVALID_PRODUCER_EPOCH]).not.toContain(
            outcome.errorCode,
          );
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        acknowledged.push(...values);
        nextValue += batchSize;
      }
    })();

    const failovers: number[] = [];
    for (let kill = 0; kill < leaderKills; kill++) {
      const ackedBefore = acknowledged.length;
      const { leaderId } = await waitForIsr(topic, 3);
      await waitFor(
        'records acknowledged since the last kill',
        async () => (acknowledged.length >= ackedBefore + 20 ? true : undefined),
        waitOptions,
      );
      const killedAtMs = Date.now();
      await cluster.kill(leaderId);
      client.drop(leaderId);
      const ackedAtKill = acknowledged.length;
      await waitFor(
        'an acknowledgement from the next leader',
        async () => (acknowledged.length > ackedAtKill ? true : undefined),
        waitOptions,
      );
      failovers.push(Date.now() - killedAtMs);
      await cluster.restart(leaderId);
    }
    stopProducing = true;
    await producing;

    const { leaderId } = await waitForIsr(topic, 3);
    // Every replica has every record and knows the final high watermark once all fetched again.
    const final = await client.readAll(leaderId, topic, 0);
    expect(final.errorCode).toBe(ErrorCode.NONE);
    const values = final.records.map((record) => Number(record.value.slice(1)));
    // Exactly once, in order: the log is the acknowledged sequence itself, retries included.
    expect(values).toEqual(acknowledged);
    expect(retries).toBeGreaterThan(0);

    const highWatermark = final.highWatermark;
    await waitFor(
      'every replica holding the whole log',
      async () => {
        const logs = cluster.nodes.map((node) =>
          Buffer.concat(batchesOnDisk(cluster, node.id, topic, highWatermark)),
        );
        const reference = logs[0]!;
        return logs.every((log) => log.equals(reference)) && reference.length > 0 ? true : undefined;
      },
      waitOptions,
    );
    console.log(
      `churn: ${acknowledged.length} records acknowledged exactly once after ${retries} retried send(s), ` +
        `failover (kill to next ack) ms: ${failovers.join(', ')}`,
    );
  });

  it('refuses acks=all below min.insync.replicas (NOT_ENOUGH_REPLICAS); left alone without a quorum, a leader stops leading (its lease) and loses nothing', async () => {
    // min.insync.replicas=3 with one follower gone: the ISR shrinks to two through the controller,
    // and the leader refuses before appending.
    const strict = 'min-isr-3';
    await waitFor(
      `topic ${strict}`,
      async () => {
        const code = await client.createTopic(1, strict, 1, 3, { 'min.insync.replicas': '3' }).catch(() => {
          client.drop(1);
          return undefined;
        });
        return code === ErrorCode.NONE || code === ErrorCode.TOPIC_ALREADY_EXISTS ? true : undefined;
      },
      waitOptions,
    );
    const strictLeader = (await waitForIsr(strict, 3)).leaderId;
    expect((await client.produce(strictLeader, strict, 0, ['x'], -1)).errorCode).toBe(ErrorCode.NONE);
    const victim = cluster.nodes.map((node) => node.id).find((id) => id !== strictLeader)!;
    await cluster.kill(victim);
    client.drop(victim);
    const shrunk = await waitForIsr(strict, 2);
    const refused = await client.produce(shrunk.leaderId, strict, 0, ['refused'], -1);
    expect(refused.errorCode).toBe(ErrorCode.NOT_ENOUGH_REPLICAS);
    await cluster.restart(victim);
    await waitForIsr(strict, 3);

    // Two of three down: the metadata quorum lives on the same three nodes, so it lost its
    // majority, and nothing answers the survivor's heartbeats. Until its lease runs out
    // (broker.session.timeout.ms) it refuses acks=all for want of replicas; after that it stops
    // acting as leader (NOT_LEADER_OR_FOLLOWER), where Kafka's broker would go on leading on stale
    // metadata. Either way nothing is appended and acknowledged, and nothing acknowledged before is
    // lost once the others return.
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
    // A produce appended just before the lease ran out waits for replicas that never come and
    // times out (REQUEST_TIMED_OUT): refused too, and never acknowledged.
    const refusals = new Set<number>([
      ErrorCode.NOT_ENOUGH_REPLICAS,
      ErrorCode.NOT_LEADER_OR_FOLLOWER,
      ErrorCode.REQUEST_TIMED_OUT,
    ]);
    const unprotected = await client
      .produce(leaderId, topic, 0, ['unprotected'], -1, 2_000)
      .catch(() => undefined);
    expect(unprotected?.errorCode).not.toBe(ErrorCode.NONE);
    const unexpected: number[] = [];
    const refusedAlone = await waitFor(
      'NOT_LEADER_OR_FOLLOWER from a leader left without a quorum (its lease ran out)',
      async () => {
        const outcome = await client.produce(leaderId, topic, 0, ['alone'], -1, 2_000).catch(() => undefined);
        // Recorded, not thrown: a throw in the probe would only count as "not yet".
        if (outcome !== undefined && !refusals.has(outcome.errorCode)) unexpected.push(outcome.errorCode);
        return outcome?.errorCode === ErrorCode.NOT_LEADER_OR_FOLLOWER ? outcome : undefined;
      },
      waitOptions,
    );
    expect(refusedAlone.errorCode).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    expect(unexpected).toEqual([]);
    await Promise.all(others.map((id) => cluster.restart(id)));
    const { leaderId: nextLeader } = await waitForIsr(topic, 3);
    const after = await waitFor(
      'an acks=all write after the return',
      async () => {
        const outcome = await client.produce(nextLeader, topic, 0, ['d'], -1);
        return outcome.errorCode === ErrorCode.NONE ? outcome : undefined;
      },
      waitOptions,
    );
    expect(after.errorCode).toBe(ErrorCode.NONE);
    const values = (await client.readAll(nextLeader, topic, 0)).records.map((record) => record.value);
    expect(values.slice(0, 3)).toEqual(['a', 'b', 'c']);
    expect(values[values.length - 1]).toBe('d');
  });
});

describe('a follower cut off from its leader (SIGSTOP)', () => {
  let cluster: ProcessCluster;
  let client: RawClusterClient;

  beforeAll(async () => {
    // The broker session outlives the test's pause, so the follower leaves the ISR by the leader's
    // lag rule (replica.lag.time.max.ms), not because the controller fenced it.
    cluster = await ProcessCluster.start({
      nodeCount: 3,
      properties: { 'replica.lag.time.max.ms': '1500', 'broker.session.timeout.ms': '60000' },
    });
    client = new RawClusterClient(cluster);
    describeCluster = () => cluster.tail(40);
  });
  afterAll(async () => {
    for (const node of cluster?.nodes ?? []) node.process?.kill('SIGCONT');
    client?.close();
    await cluster?.close();
  });

  it('leaves the ISR after replica.lag.time.max.ms and rejoins once it caught up', async () => {
    const topic = 'cut-off';
    await waitFor(
      `topic ${topic}`,
      async () => {
        const code = await client.createTopic(1, topic, 1, 3, { 'min.insync.replicas': '2' }).catch(() => {
          client.drop(1);
          return undefined;
        });
        return code === ErrorCode.NONE || code === ErrorCode.TOPIC_ALREADY_EXISTS ? true : undefined;
      },
      waitOptions,
    );
    const view = await waitFor(
      'ISR of 3',
      async () => {
        const seen = await client.partition(topic, 0);
        return seen !== undefined && seen.isr.length === 3 && seen.leaderId >= 0 ? seen : undefined;
      },
      waitOptions,
    );
    const controllerId = (await cluster.describe(view.leaderId)).controllerId;
    // Neither the partition leader nor the metadata quorum leader: the others keep working.
    const follower = view.replicas.find((id) => id !== view.leaderId && id !== controllerId)!;
    cluster.node(follower).process!.kill('SIGSTOP');
    try {
      const shrunk = await waitFor(
        'the follower out of the ISR',
        async () => {
          const outcome = await client.produce(view.leaderId, topic, 0, ['while-cut-off'], -1, 2_000);
          expect([ErrorCode.NONE, ErrorCode.REQUEST_TIMED_OUT]).toContain(outcome.errorCode);
          const seen = await client.partition(topic, 0, [view.leaderId]);
          return seen !== undefined && !seen.isr.includes(follower) ? seen : undefined;
        },
        waitOptions,
      );
      expect(shrunk.isr.length).toBe(2);
      // With the ISR at two, acks=all works again without the cut-off follower.
      expect((await client.produce(view.leaderId, topic, 0, ['after-shrink'], -1)).errorCode).toBe(
        ErrorCode.NONE,
      );
    } finally {
      cluster.node(follower).process?.kill('SIGCONT');
    }
    const rejoined = await waitFor(
      'the follower back in the ISR',
      async () => {
        const seen = await client.partition(topic, 0, [view.leaderId]);
        return seen?.isr.includes(follower) ? seen : undefined;
      },
      waitOptions,
    );
    expect(rejoined.isr.length).toBe(3);
  });
});

import { ApiKey, ErrorCode } from '@gregor/protocol';
import {
  type AlterPartitionOutcome,
  type AlterPartitionProposal,
  isrChangeRetryBackoffMs,
} from '@gregor/replication';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalClusterFixture } from '../testing/local-cluster-fixture.js';

let cluster: LocalClusterFixture | undefined;
afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

/** Moves the fixture's time in resend-backoff steps until `condition` holds. */
async function advanceUntil(condition: () => boolean, what: string): Promise<void> {
  for (let step = 0; step < 20 && !condition(); step++) {
    await new Promise<void>((resolve) => setImmediate(resolve));
    cluster!.timers.advanceMs(isrChangeRetryBackoffMs);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  if (!condition()) throw new Error(`not reached: ${what}`);
}

describe('ISR proposals (AlterPartition) from a partition leader', () => {
  it('keeps an unanswered proposal pending and sends the same one again, instead of reverting', async () => {
    const sent: AlterPartitionProposal[] = [];
    const answers: AlterPartitionOutcome[] = [
      { errorCode: ErrorCode.REQUEST_TIMED_OUT, partitionEpoch: -1 },
      { errorCode: ErrorCode.NOT_CONTROLLER, partitionEpoch: -1 },
    ];
    const lagMs = 1_000;
    cluster = await LocalClusterFixture.start({
      otherBrokerIds: [2, 3],
      replicaLagTimeMaxMs: lagMs,
      alterPartition: async (proposal) => {
        sent.push(proposal);
        // After the ambiguous answers, the controller says it committed (the image will carry it).
        return answers.shift() ?? { errorCode: ErrorCode.NONE, partitionEpoch: proposal.partitionEpoch + 1 };
      },
    });
    const created = await cluster.request(ApiKey.CreateTopics, 4, {
      topics: [{ name: 'r', numPartitions: 3, replicationFactor: 3, assignments: [], configs: [] }],
      timeoutMs: 1000,
      validateOnly: false,
    });
    expect(created.topics[0]!.errorCode).toBe(ErrorCode.NONE);
    const index = cluster
      .image()
      .topic('r')!
      .partitions.findIndex((state) => state.leader === 1);
    const partition = cluster.replicaManager.partition('r', index)!;
    expect(partition.isr).toHaveLength(3);

    // Neither follower ever fetches: after the lag time the leader proposes an ISR of itself alone.
    cluster.clock.advanceMs(lagMs + 1);
    expect(cluster.replicaManager.shrinkLaggingIsrs(cluster.clock.nowMs())).toBe(1);
    const pending = partition.pendingIsrChange;
    expect(pending).toBeDefined();

    await advanceUntil(() => sent.length >= 3, 'the proposal to be sent three times');
    // The same proposal each time, and still pending: an unanswered change is never reverted.
    expect(sent[1]).toEqual(sent[0]);
    expect(sent[2]).toEqual(sent[0]);
    expect(sent[0]!.newIsr).toEqual([1]);
    expect(partition.pendingIsrChange).toBe(pending);
    expect(partition.isr).toHaveLength(3);
  });
});

// The group leader's assignment over a scripted coordinator: it refreshes the subscribed topics'
// metadata after JoinGroup and before it assigns (as kafkajs's leader does), so a partition the
// topic gained since the member last looked is assigned in this rebalance.

import { ApiKey } from '@gregor/protocol';
import { describe, expect, it } from 'vitest';
import type { Cluster } from '../cluster.js';
import { createLogger, logLevel } from '../logger.js';
import { resolveRetry } from '../retry.js';
import { cooperativeStickyGeneration, PartitionAssigners } from './assigners.js';
import {
  decodeAssignment,
  decodeSubscription,
  encodeAssignment,
  encodeSubscription,
} from './consumer-protocol.js';
import { GroupMembership } from './group-membership.js';

/** Coordinator of a group where this member is the leader and the only member; `orders` grows from 2 to 3 partitions. */
class LeaderCoordinator {
  readonly retry = resolveRetry({ retries: 2, initialRetryTime: 1, maxRetryTime: 2 });
  /** What the member did, in order: the APIs it sent and its metadata refreshes. */
  readonly calls: string[] = [];
  /** The partition count the client knows; a refresh learns the third partition. */
  private knownPartitions = 2;
  syncedAssignments: { memberId: string; assignment: Buffer }[] = [];

  async ensureTopics(topics: readonly string[]): Promise<void> {
    this.calls.push(`ensureTopics ${topics.join(',')}`);
  }
  async refreshMetadata(topics: readonly string[] = []): Promise<void> {
    this.calls.push(`refreshMetadata ${topics.join(',')}`);
    this.knownPartitions = 3;
  }
  partitionCount(): number {
    return this.knownPartitions;
  }
  async findCoordinator(): Promise<number> {
    return 1;
  }
  async sendVersioned(_nodeId: number, apiKey: number, body: (version: number) => Record<string, unknown>) {
    body(6);
    this.calls.push('JoinGroup');
    expect(apiKey).toBe(ApiKey.JoinGroup);
    return {
      errorCode: 0,
      generationId: 1,
      protocolName: 'RoundRobinAssigner',
      leader: 'member-1',
      memberId: 'member-1',
      members: [
        {
          memberId: 'member-1',
          groupInstanceId: null,
          metadata: encodeSubscription({ topics: ['orders'], userData: null }),
        },
      ],
    };
  }
  async send(_nodeId: number, apiKey: number, body: Record<string, unknown>) {
    this.calls.push('SyncGroup');
    expect(apiKey).toBe(ApiKey.SyncGroup);
    this.syncedAssignments = body.assignments as { memberId: string; assignment: Buffer }[];
    return {
      errorCode: 0,
      assignment: this.syncedAssignments.find((entry) => entry.memberId === 'member-1')!.assignment,
    };
  }
}

describe('the group leader', () => {
  it('refreshes the subscribed topics after JoinGroup and assigns the partitions that brings', async () => {
    const coordinator = new LeaderCoordinator();
    const membership = new GroupMembership(
      coordinator as unknown as Cluster,
      {
        groupId: 'readers',
        groupInstanceId: null,
        sessionTimeoutMs: 6_000,
        rebalanceTimeoutMs: 6_000,
        assigners: [PartitionAssigners.roundRobin],
      },
      createLogger(logLevel.NOTHING, () => () => undefined),
    );
    const assignment = await membership.join(['orders'], new Map());
    expect(coordinator.calls).toEqual([
      'JoinGroup',
      'refreshMetadata orders',
      'ensureTopics orders',
      'SyncGroup',
    ]);
    expect(membership.isLeader).toBe(true);
    expect(assignment).toEqual(new Map([['orders', [0, 1, 2]]]));
    expect(decodeAssignment(coordinator.syncedAssignments[0]!.assignment)).toEqual(assignment);
    // What the member was told is what it sent: encoded the way the assignor writes it.
    expect(coordinator.syncedAssignments[0]!.assignment).toEqual(encodeAssignment(assignment));
  });

  it("sends the generation of its owned partitions to a cooperative-sticky leader (Java's user data)", async () => {
    /** A coordinator of one member that chose cooperative-sticky; generations count from 5. */
    class CooperativeCoordinator extends LeaderCoordinator {
      generation = 4;
      readonly joinMetadata: Buffer[] = [];
      override async sendVersioned(
        _nodeId: number,
        _apiKey: number,
        body: (version: number) => Record<string, unknown>,
      ) {
        const request = body(6) as { protocols: { name: string; metadata: Buffer }[] };
        this.joinMetadata.push(request.protocols[0]!.metadata);
        this.generation++;
        return {
          errorCode: 0,
          generationId: this.generation,
          protocolName: 'cooperative-sticky',
          leader: 'member-1',
          memberId: 'member-1',
          members: [
            { memberId: 'member-1', groupInstanceId: null, metadata: request.protocols[0]!.metadata },
          ],
        };
      }
    }
    const coordinator = new CooperativeCoordinator();
    const membership = new GroupMembership(
      coordinator as unknown as Cluster,
      {
        groupId: 'readers',
        groupInstanceId: null,
        sessionTimeoutMs: 6_000,
        rebalanceTimeoutMs: 6_000,
        assigners: [PartitionAssigners.cooperativeSticky],
      },
      createLogger(logLevel.NOTHING, () => () => undefined),
    );
    const first = await membership.join(['orders'], new Map());
    await membership.join(['orders'], first);
    const [before, after] = coordinator.joinMetadata.map(decodeSubscription);
    // Nothing owned yet: Java's DEFAULT_GENERATION. Then the generation the assignment came with.
    expect(cooperativeStickyGeneration(before!.userData)).toBe(-1);
    expect(cooperativeStickyGeneration(after!.userData)).toBe(5);
    expect(after!.ownedPartitions).toEqual(first);
  });
});

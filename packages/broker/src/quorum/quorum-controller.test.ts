// The active controller over a metadata log that fails a proposal: it rebuilds itself from the
// committed image in the same epoch and carries on. Over a log whose commit is slow: heartbeats
// are answered at once all the same.

import { waitFor } from '@gregor/ground/testing';
import { ErrorCode } from '@gregor/protocol';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../logging.js';
import { MetadataPublisher } from './metadata-publisher.js';
import {
  type LeaderChange,
  type MetadataLog,
  majorityFetchedWithin,
  QuorumController,
} from './quorum-controller.js';

const clusterId = 'quorum-controller-cluster';
const nodeId = 1;

/** A one-node metadata log: a proposal commits and applies at once, unless it is told to fail. */
class InstantLog implements MetadataLog {
  private endOffset = 0;
  private readonly listeners: ((change: LeaderChange) => void)[] = [];
  failNextProposal = false;
  /** Set: the next proposal is appended but commits only when the test calls `release`. */
  holdNextProposal = false;
  /** A proposal is being held. */
  holding = false;
  release: () => void = () => undefined;

  constructor(private readonly publisher: MetadataPublisher) {}

  async propose(payload: Uint8Array): Promise<{ offset: number; epoch: number }> {
    if (this.failNextProposal) {
      this.failNextProposal = false;
      throw new Error('the quorum did not commit it in time');
    }
    const offset = this.endOffset++;
    if (this.holdNextProposal) {
      this.holdNextProposal = false;
      this.holding = true;
      await new Promise<void>((resolve) => {
        this.release = resolve;
      });
      this.holding = false;
    }
    this.publisher.apply([{ offset, type: 'data', payload }]);
    return { offset, epoch: 1 };
  }

  status() {
    return {
      leaderId: nodeId,
      epoch: 1,
      highWatermark: this.endOffset,
      logEndOffset: this.endOffset,
      isLeader: true,
    };
  }

  onLeaderChange(listener: (change: LeaderChange) => void): void {
    this.listeners.push(listener);
  }

  leadershipConfirmedWithin(): boolean {
    return true;
  }

  elect(): void {
    for (const listener of this.listeners) listener({ leaderId: nodeId, epoch: 1, isLocalLeader: true });
  }
}

describe('QuorumController', () => {
  it('rebuilds itself in the same epoch after a failed proposal, without a second activation record', async () => {
    const publisher = new MetadataPublisher();
    const log = new InstantLog(publisher);
    const controller = new QuorumController({
      nodeId,
      clusterId,
      log,
      publisher,
      config: {},
      random: { nextInt: () => 0 },
      nowMs: () => 1_000,
      logger: createLogger({ nodeId, level: 'silent', prettyPrint: false }),
    });
    log.elect();
    await waitFor('the controller to become active', () => controller.isActive, {
      timeoutMs: 5_000,
      intervalMs: 1,
    });
    expect(publisher.image.controller).toEqual({ controllerId: nodeId, controllerEpoch: 1 });

    const register = () =>
      controller.call((active, context) =>
        active.registerBroker(
          {
            brokerId: nodeId,
            clusterId,
            incarnationId: 'AAAAAAAAAAAAAAAAAAAAAg',
            listeners: [{ name: 'PLAINTEXT', host: 'localhost', port: 9092, securityProtocol: 0 }],
            rack: null,
          },
          context.nowMs,
          context.metadataLogEndOffset,
        ),
      );
    log.failNextProposal = true;
    const failed = await register();
    expect(failed).toMatchObject({ ok: false, errorCode: ErrorCode.NOT_CONTROLLER });
    // Rebuilt from the committed image, whose activation for this epoch is already there.
    await waitFor('the controller to become active', () => controller.isActive, {
      timeoutMs: 5_000,
      intervalMs: 1,
    });
    const registered = await register();
    expect(registered.ok).toBe(true);
    expect(publisher.image.broker(nodeId)?.fenced).toBe(true);
    expect(publisher.image.controller).toEqual({ controllerId: nodeId, controllerEpoch: 1 });
    controller.close();
  });

  it('answers a heartbeat at once while an earlier operation waits for a slow commit', async () => {
    const publisher = new MetadataPublisher();
    const log = new InstantLog(publisher);
    const controller = new QuorumController({
      nodeId,
      clusterId,
      log,
      publisher,
      config: {},
      random: { nextInt: () => 0 },
      nowMs: () => 1_000,
      logger: createLogger({ nodeId, level: 'silent', prettyPrint: false }),
    });
    log.elect();
    await waitFor('the controller to become active', () => controller.isActive, {
      timeoutMs: 5_000,
      intervalMs: 1,
    });
    const register = (brokerId: number) =>
      controller.call((active, context) =>
        active.registerBroker(
          {
            brokerId,
            clusterId,
            incarnationId: `AAAAAAAAAAAAAAAAAAAAA${brokerId === 1 ? 'g' : 'w'}`,
            listeners: [{ name: 'PLAINTEXT', host: 'localhost', port: 9090 + brokerId, securityProtocol: 0 }],
            rack: null,
          },
          context.nowMs,
          context.metadataLogEndOffset,
        ),
      );
    const registered = await register(1);
    if (!registered.ok) throw new Error('registration failed');
    const heartbeat = (active: Parameters<Parameters<QuorumController['call']>[0]>[0], nowMs: number) =>
      active.brokerHeartbeat(
        {
          brokerId: 1,
          brokerEpoch: registered.response.brokerEpoch,
          currentMetadataOffset: log.status().logEndOffset,
          wantFence: false,
          wantShutDown: false,
        },
        nowMs,
        log.status().logEndOffset,
      );
    // Broker 1 caught up: unfenced (one record, committed at once).
    const unfenced = await controller.call((active, context) => heartbeat(active, context.nowMs));
    expect(unfenced).toMatchObject({ ok: true, response: { isFenced: false } });

    // A registration whose commit hangs; a queued heartbeat waits behind it, an immediate one does not.
    log.holdNextProposal = true;
    let secondRegistered = false;
    const second = register(2).then((result) => {
      secondRegistered = true;
      return result;
    });
    let queuedAnswered = false;
    const queued = controller
      .call((active, context) => heartbeat(active, context.nowMs))
      .then((result) => {
        queuedAnswered = true;
        return result;
      });
    await waitFor('the registration to wait for its commit', () => log.holding, {
      timeoutMs: 5_000,
      intervalMs: 1,
    });
    const atOnce = await controller.callAtOnce((active, context) => heartbeat(active, context.nowMs));
    expect(atOnce).toMatchObject({ ok: true, response: { isFenced: false } });
    expect(secondRegistered).toBe(false);
    expect(queuedAnswered).toBe(false);

    log.release();
    expect((await second).ok).toBe(true);
    expect(await queued).toMatchObject({ ok: true, response: { isFenced: false } });
    expect(publisher.image.broker(2)?.fenced).toBe(true);
    controller.close();
  });
});

describe('majorityFetchedWithin', () => {
  const quorum = (clockNowMs: number, lastFetches: Record<number, number>) => ({
    leaderId: 1,
    clockNowMs,
    voters: [
      { replicaId: 1, lastFetchMs: 0 },
      ...Object.entries(lastFetches).map(([id, lastFetchMs]) => ({ replicaId: Number(id), lastFetchMs })),
    ],
  });

  it('counts the leader and the voters that fetched within the age, against the clock now', () => {
    // The leader's own entry is as old as its Raft core's last tick: it counts all the same.
    expect(majorityFetchedWithin(quorum(10_000, { 2: 9_500, 3: 1_000 }), 1_000)).toBe(true);
    expect(majorityFetchedWithin(quorum(10_000, { 2: 9_000, 3: 1_000 }), 1_000)).toBe(true);
    // Paused 3.9 s: every follower's last fetch is from before the pause.
    expect(majorityFetchedWithin(quorum(10_000, { 2: 6_100, 3: 6_050 }), 1_000)).toBe(false);
    expect(majorityFetchedWithin(quorum(10_000, { 2: 8_999, 3: 8_000 }), 1_000)).toBe(false);
  });

  it('does not count a voter that has not fetched in this epoch', () => {
    expect(majorityFetchedWithin(quorum(500, { 2: -1, 3: -1 }), 1_000)).toBe(false);
    expect(majorityFetchedWithin(quorum(500, { 2: -1, 3: 400 }), 1_000)).toBe(true);
  });

  it('needs a strict majority: two of four voters are not enough', () => {
    expect(majorityFetchedWithin(quorum(10_000, { 2: 9_900, 3: 0, 4: 0 }), 1_000)).toBe(false);
    expect(majorityFetchedWithin(quorum(10_000, { 2: 9_900, 3: 9_900, 4: 0 }), 1_000)).toBe(true);
  });

  it('is always true for a single voter', () => {
    expect(majorityFetchedWithin(quorum(10_000, {}), 1_000)).toBe(true);
  });
});

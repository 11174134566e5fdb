// The active controller over a metadata log that fails a proposal: it rebuilds itself from the
// committed image in the same epoch and carries on.

import { waitFor } from '@gregor/ground/testing';
import { ErrorCode } from '@gregor/protocol';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../logging.js';
import { MetadataPublisher } from './metadata-publisher.js';
import { type LeaderChange, type MetadataLog, QuorumController } from './quorum-controller.js';

const clusterId = 'quorum-controller-cluster';
const nodeId = 1;

/** A one-node metadata log: a proposal commits and applies at once, unless it is told to fail. */
class InstantLog implements MetadataLog {
  private endOffset = 0;
  private readonly listeners: ((change: LeaderChange) => void)[] = [];
  failNextProposal = false;

  constructor(private readonly publisher: MetadataPublisher) {}

  async propose(payload: Uint8Array): Promise<{ offset: number; epoch: number }> {
    if (this.failNextProposal) {
      this.failNextProposal = false;
      throw new Error('the quorum did not commit it in time');
    }
    const offset = this.endOffset++;
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
});

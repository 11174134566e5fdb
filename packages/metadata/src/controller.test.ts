import { InvariantViolation, SeededRandom } from '@gregor/ground';
import { describe, expect, it } from 'vitest';
import { offlineReplicasPerHeartbeatMax } from './cluster-control.js';
import { Controller } from './controller.js';
import { defaultControllerConfig } from './controller-config.js';
import { ControllerErrorCode as E, isControllerError } from './errors.js';
import { ControllerHarness, clusterId, incarnation, listeners } from './testing/controller-harness.js';

const sessionMs = defaultControllerConfig.brokerSessionTimeoutMs;

function leadersOf(h: ControllerHarness, topic: string): number[] {
  return h.committed.topic(topic)!.partitions.map((p) => p.leader);
}

describe('broker registration and liveness', () => {
  it('registers a broker fenced and unfences it once it has caught up with the metadata log', () => {
    const h = new ControllerHarness();
    const registrationOffset = h.logEndOffset;
    const epoch = h.register(1);
    expect(h.committed.broker(1)).toMatchObject({
      brokerEpoch: epoch,
      fenced: true,
      inControlledShutdown: false,
    });

    const behind = h.heartbeat(1, { offset: registrationOffset - 1 });
    expect(behind).toEqual({ isCaughtUp: false, isFenced: true, shouldShutDown: false });
    expect(h.committed.broker(1)!.fenced).toBe(true);

    const caughtUp = h.heartbeat(1, { offset: registrationOffset });
    expect(caughtUp).toEqual({ isCaughtUp: true, isFenced: false, shouldShutDown: false });
    expect(h.committed.broker(1)!.fenced).toBe(false);
  });

  it('gives every registration a larger broker epoch and refuses stale epochs', () => {
    const h = new ControllerHarness();
    const first = h.register(1);
    const second = h.register(2);
    expect(second).toBeGreaterThan(first);
    const stale = h.controller.brokerHeartbeat(
      {
        brokerId: 1,
        brokerEpoch: first - 1,
        currentMetadataOffset: 0,
        wantFence: false,
        wantShutDown: false,
      },
      h.nowMs,
      h.logEndOffset,
    );
    expect(h.fail(stale).errorCode).toBe(E.STALE_BROKER_EPOCH);
    const unknown = h.controller.brokerHeartbeat(
      { brokerId: 9, brokerEpoch: 0, currentMetadataOffset: 0, wantFence: false, wantShutDown: false },
      h.nowMs,
      h.logEndOffset,
    );
    expect(h.fail(unknown).errorCode).toBe(E.BROKER_ID_NOT_REGISTERED);
  });

  it('refuses a registration for another cluster or with bad listeners', () => {
    const h = new ControllerHarness();
    const base = {
      brokerId: 1,
      clusterId,
      incarnationId: incarnation(1),
      listeners: listeners(1),
      rack: null,
    };
    const wrongCluster = h.controller.registerBroker({ ...base, clusterId: 'other' }, h.nowMs, 0);
    expect(h.fail(wrongCluster).errorCode).toBe(E.INCONSISTENT_CLUSTER_ID);
    const noListener = h.controller.registerBroker({ ...base, listeners: [] }, h.nowMs, 0);
    expect(h.fail(noListener).errorCode).toBe(E.INVALID_REQUEST);
    const badPort = h.controller.registerBroker(
      { ...base, listeners: [{ name: 'PLAINTEXT', host: 'h', port: 70000, securityProtocol: 0 }] },
      h.nowMs,
      0,
    );
    expect(h.fail(badPort).errorCode).toBe(E.INVALID_REQUEST);
    // Values the broker record cannot hold (security protocol is an int16 there) are refused here,
    // not found out when the record is encoded.
    for (const listener of [
      { name: 'PLAINTEXT', host: 'h', port: 9092, securityProtocol: 0x7fffffff },
      { name: 'PLAINTEXT', host: 'h', port: 9092, securityProtocol: 4 },
      { name: 'PLAINTEXT', host: 'h'.repeat(256), port: 9092, securityProtocol: 0 },
    ]) {
      const refused = h.controller.registerBroker({ ...base, listeners: [listener] }, h.nowMs, 0);
      expect(h.fail(refused).errorCode).toBe(E.INVALID_REQUEST);
    }
  });

  it('refuses a second incarnation while the first one has a live session', () => {
    const h = new ControllerHarness();
    h.startBrokers([1]);
    const request = {
      brokerId: 1,
      clusterId,
      incarnationId: incarnation(1, 1),
      listeners: listeners(1),
      rack: null,
    };
    expect(h.fail(h.controller.registerBroker(request, h.nowMs, h.logEndOffset)).errorCode).toBe(
      E.DUPLICATE_BROKER_REGISTRATION,
    );
    // Once the old session has expired (and the old incarnation is fenced), the new one may register.
    expect(h.run(sessionMs + 500, [])).toEqual([1]);
    expect(h.ok(h.controller.registerBroker(request, h.nowMs, h.logEndOffset)).brokerEpoch).toBeGreaterThan(
      h.brokerEpochs.get(1)!,
    );
  });

  it('keeps brokers that heartbeat unfenced for a long time', () => {
    const h = new ControllerHarness();
    h.startBrokers([1, 2, 3]);
    h.createTopic('t', 6, 3);
    const fenced = h.run(120_000, [1, 2, 3]);
    expect(fenced).toEqual([]);
    expect([1, 2, 3].map((id) => h.committed.broker(id)!.fenced)).toEqual([false, false, false]);
  });

  it('unfences a broker fenced for silence only once it has applied the log as it was when it came back', () => {
    // Cut off, it missed its own fencing and its partitions' new leaders; unfenced at once (and so
    // given the leader lease back) it would act as leader of them on its stale image.
    const h = new ControllerHarness();
    h.startBrokers([1, 2, 3]);
    h.createTopic('t', 3, 3);
    h.run(1000, [1, 2, 3]);
    const seenBeforeCut = h.logEndOffset - 1;
    expect(h.run(sessionMs + 500, [1, 3])).toEqual([2]);
    expect(h.partition('t', 0).leader).not.toBe(2);
    const logEndAtReturn = h.logEndOffset;

    const stale = h.heartbeat(2, { offset: seenBeforeCut });
    expect(stale).toEqual({ isCaughtUp: false, isFenced: true, shouldShutDown: false });
    expect(h.committed.broker(2)!.fenced).toBe(true);
    const caughtUp = h.heartbeat(2, { offset: logEndAtReturn - 1 });
    expect(caughtUp).toEqual({ isCaughtUp: true, isFenced: false, shouldShutDown: false });
    expect(h.committed.broker(2)!.fenced).toBe(false);
  });

  it('fences a broker whose session expires, moves its leaderships with leader epoch + 1, drops it from ISRs', () => {
    const h = new ControllerHarness();
    h.startBrokers([1, 2, 3]);
    h.createTopic('t', 6, 3);
    h.run(1000, [1, 2, 3]);
    const before = h.committed.topic('t')!.partitions;
    const deadlineMs = h.controller.sessionDeadlineMs(2)!;

    // Broker 2 stops heartbeating (kill -9): still unfenced just before its deadline...
    h.run(deadlineMs - 1 - h.nowMs, [1, 3]);
    expect(h.committed.broker(2)!.fenced).toBe(false);
    // ...and fenced by the first tick at or after it.
    expect(h.run(1 + defaultControllerConfig.brokerHeartbeatIntervalMs, [1, 3])).toEqual([2]);
    expect(h.committed.broker(2)!.fenced).toBe(true);

    const after = h.committed.topic('t')!.partitions;
    after.forEach((partition, index) => {
      const previous = before[index]!;
      expect(partition.isr).not.toContain(2);
      expect(partition.isr).toHaveLength(2);
      expect(partition.leader).not.toBe(2);
      expect(partition.partitionEpoch).toBe(previous.partitionEpoch + 1);
      if (previous.leader === 2) {
        expect(partition.leaderEpoch).toBe(previous.leaderEpoch + 1);
        // The next replica in preference order that is still in the ISR takes over.
        expect(partition.leader).toBe(previous.replicas.find((id) => id !== 2));
      } else {
        expect(partition.leader).toBe(previous.leader);
        expect(partition.leaderEpoch).toBe(previous.leaderEpoch);
      }
    });
    expect(before.some((p) => p.leader === 2)).toBe(true);
  });

  it('does not fence a healthy cluster when the controller itself stalls', () => {
    const h = new ControllerHarness();
    h.startBrokers([1, 2, 3]);
    h.run(1000, [1, 2, 3]);
    // The event loop stalls for 5 s: the tick timer fires late, before the queued heartbeats.
    h.nowMs = h.nextTickMs + 5000;
    const tick = h.tick();
    expect(tick.fencedBrokerIds).toEqual([]);
    expect(tick.stallMs).toBe(5000);
    expect(h.run(10_000, [1, 2, 3])).toEqual([]);
  });

  it('fences a dead broker within two sessions even if the driver ticks far too rarely', () => {
    const h = new ControllerHarness();
    h.startBrokers([1, 2]);
    h.tick();
    const lastHeartbeatMs = h.nowMs;
    // Broker 2 is dead; the driver ticks every 2 s instead of at the deadlines asked for, so every
    // tick looks like a stall. Broker 1 heartbeats between ticks.
    let fencedAtMs: number | null = null;
    while (fencedAtMs === null && h.nowMs < lastHeartbeatMs + 60_000) {
      h.nowMs += 2000;
      h.heartbeat(1);
      if (h.tick().fencedBrokerIds.includes(2)) fencedAtMs = h.nowMs;
    }
    expect(fencedAtMs).not.toBeNull();
    expect(fencedAtMs! - lastHeartbeatMs).toBeLessThanOrEqual(2 * sessionMs + 2000);
    expect(h.committed.broker(1)!.fenced).toBe(false);
  });

  it('still fences dead brokers when ticks run on time', () => {
    const h = new ControllerHarness();
    h.startBrokers([1, 2, 3]);
    // Every broker dies; the controller keeps ticking on schedule, so no stall hides it.
    const fenced = h.run(sessionMs + 500, []);
    expect(fenced.sort()).toEqual([1, 2, 3]);
  });

  it('lets a broker ask to be fenced', () => {
    const h = new ControllerHarness();
    h.startBrokers([1, 2]);
    h.createTopic('t', 2, 2);
    expect(h.heartbeat(1, { wantFence: true }).isFenced).toBe(true);
    expect(h.committed.broker(1)!.fenced).toBe(true);
    expect(leadersOf(h, 't')).toEqual([2, 2]);
  });
});

describe('controlled shutdown', () => {
  it('moves leaderships at once, fences the broker and keeps it fenced until it registers again', () => {
    const h = new ControllerHarness();
    h.startBrokers([1, 2, 3]);
    h.createTopic('t', 6, 3);
    const led = h.committed
      .topic('t')!
      .partitions.map((p, i) => [p, i] as const)
      .filter(([p]) => p.leader === 1);
    expect(led.length).toBe(2);

    const response = h.heartbeat(1, { wantShutDown: true });
    expect(response).toEqual({ isCaughtUp: true, isFenced: true, shouldShutDown: true });
    expect(h.committed.broker(1)).toMatchObject({ fenced: true, inControlledShutdown: true });
    for (const [previous, index] of led) {
      const partition = h.partition('t', index);
      expect(partition.leader).not.toBe(1);
      expect(partition.leaderEpoch).toBe(previous.leaderEpoch + 1);
    }
    expect(h.committed.topic('t')!.partitions.every((p) => !p.isr.includes(1))).toBe(true);

    // A heartbeat after that (the broker is draining) neither unfences it nor writes anything.
    const again = h.controller.brokerHeartbeat(
      {
        brokerId: 1,
        brokerEpoch: h.brokerEpochs.get(1)!,
        currentMetadataOffset: h.logEndOffset,
        wantFence: false,
        wantShutDown: false,
      },
      h.nowMs,
      h.logEndOffset,
    );
    expect(isControllerError(again) ? again : again.records).toEqual([]);

    // Restarted, it registers anew and is unfenced once caught up.
    h.register(1, 1);
    expect(h.committed.broker(1)).toMatchObject({ fenced: true, inControlledShutdown: false });
    expect(h.heartbeat(1).isFenced).toBe(false);
  });
});

describe('unregistering a broker (UnregisterBroker)', () => {
  it('removes a fenced broker, and an active one after moving its leaderships; an unknown id is BROKER_ID_NOT_REGISTERED', () => {
    const h = new ControllerHarness();
    h.startBrokers([1, 2, 3]);
    h.createTopic('t', 6, 3);
    const unknown = h.controller.unregisterBroker(9);
    expect(h.fail(unknown)).toEqual({
      errorCode: E.BROKER_ID_NOT_REGISTERED,
      errorMessage: 'Broker ID 9 is not currently registered',
    });

    // Broker 3 shut down cleanly: fenced, out of every ISR; unregistering only removes it.
    h.heartbeat(3, { wantShutDown: true });
    const fencedOutcome = h.controller.unregisterBroker(3);
    expect(isControllerError(fencedOutcome) ? fencedOutcome : fencedOutcome.records).toEqual([
      { type: 'unregisterBroker', brokerId: 3, brokerEpoch: h.brokerEpochs.get(3) },
    ]);
    h.ok(fencedOutcome);
    expect(h.committed.broker(3)).toBeUndefined();
    expect(h.fail(h.controller.unregisterBroker(3)).errorCode).toBe(E.BROKER_ID_NOT_REGISTERED);

    // Broker 1 is active and leads partitions: it leaves them and its ISRs, then its registration.
    expect(h.committed.topic('t')!.partitions.some((p) => p.leader === 1)).toBe(true);
    h.ok(h.controller.unregisterBroker(1));
    expect(h.committed.broker(1)).toBeUndefined();
    for (const partition of h.committed.topic('t')!.partitions) {
      expect(partition.leader).toBe(2);
      expect(partition.isr).toEqual([2]);
    }
    // Its next heartbeat is refused, so a broker still running registers again.
    const heartbeat = h.controller.brokerHeartbeat(
      {
        brokerId: 1,
        brokerEpoch: h.brokerEpochs.get(1)!,
        currentMetadataOffset: 0,
        wantFence: false,
        wantShutDown: false,
      },
      h.nowMs,
      h.logEndOffset,
    );
    expect(h.fail(heartbeat).errorCode).toBe(E.BROKER_ID_NOT_REGISTERED);
    h.register(1, 1);
    expect(h.committed.broker(1)).toMatchObject({ fenced: true });
  });
});

describe('offline partitions and unclean election', () => {
  it('takes a partition offline (leader -1) when its last ISR member is fenced, keeping that member in the ISR', () => {
    const h = new ControllerHarness();
    h.startBrokers([1, 2]);
    h.createTopic('t', 1, 2);
    const leader = h.partition('t', 0).leader;
    const follower = leader === 1 ? 2 : 1;
    // The follower falls behind: the leader shrinks the ISR to itself.
    h.ok(h.alterIsr('t', 0, [leader]));
    const before = h.partition('t', 0);

    h.heartbeat(leader, { wantFence: true });
    const offline = h.partition('t', 0);
    expect(offline.leader).toBe(-1);
    expect(offline.isr).toEqual([leader]);
    expect(offline.leaderEpoch).toBe(before.leaderEpoch + 1);
    // The live follower is not in the ISR: without unclean election it may not lead.
    expect(h.committed.broker(follower)!.fenced).toBe(false);

    // The last ISR member comes back (re-registers after a crash) and leads again once caught up.
    h.register(leader, 1);
    expect(h.partition('t', 0).leader).toBe(-1);
    h.heartbeat(leader);
    expect(h.partition('t', 0)).toMatchObject({
      leader,
      isr: [leader],
      leaderEpoch: offline.leaderEpoch + 1,
    });
  });

  it('elects a live out-of-sync replica when unclean.leader.election.enable is set on the topic', () => {
    const h = new ControllerHarness();
    h.startBrokers([1, 2]);
    h.createTopic('t', 1, 2, { 'unclean.leader.election.enable': 'true' });
    const leader = h.partition('t', 0).leader;
    const follower = leader === 1 ? 2 : 1;
    h.ok(h.alterIsr('t', 0, [leader]));
    h.heartbeat(leader, { wantFence: true });
    expect(h.partition('t', 0)).toMatchObject({ leader: follower, isr: [follower] });
  });

  it('elects at once when unclean election is enabled on a topic that is already offline', () => {
    const h = new ControllerHarness();
    h.startBrokers([1, 2]);
    h.createTopic('t', 1, 2);
    const leader = h.partition('t', 0).leader;
    const follower = leader === 1 ? 2 : 1;
    h.ok(h.alterIsr('t', 0, [leader]));
    h.heartbeat(leader, { wantFence: true });
    expect(h.partition('t', 0).leader).toBe(-1);
    const response = h.ok(
      h.controller.incrementalAlterTopicConfigs(
        {
          topicName: 't',
          operations: [{ name: 'unclean.leader.election.enable', operation: 'set', value: 'true' }],
        },
        { validateOnly: false },
      ),
    );
    expect(response.uncleanLeaderElectionCount).toBe(1);
    expect(h.partition('t', 0)).toMatchObject({ leader: follower, isr: [follower] });
  });

  it('follows the cluster default for unclean election', () => {
    const h = new ControllerHarness({ uncleanLeaderElectionEnable: true });
    h.startBrokers([1, 2]);
    h.createTopic('t', 1, 2);
    const leader = h.partition('t', 0).leader;
    h.ok(h.alterIsr('t', 0, [leader]));
    h.heartbeat(leader, { wantFence: true });
    expect(h.partition('t', 0).leader).toBe(leader === 1 ? 2 : 1);
  });
});

describe('preferred leader election', () => {
  it('moves leadership back to the preferred replica once it is back in the ISR', () => {
    const h = new ControllerHarness();
    h.startBrokers([1, 2, 3]);
    h.createTopic('t', 3, 3);
    const preferred = h.committed.topic('t')!.partitions.map((p) => p.replicas[0]);
    expect(leadersOf(h, 't')).toEqual(preferred);
    h.run(1000, [1, 2, 3]);
    h.run(sessionMs + 500, [2, 3]);
    expect(leadersOf(h, 't')).not.toContain(1);

    // Broker 1 restarts, catches up, is unfenced; the partition leaders add it back to their ISRs.
    h.register(1, 1);
    h.heartbeat(1);
    h.committed.topic('t')!.partitions.forEach((p, index) => {
      h.ok(h.alterIsr('t', index, [...p.isr, 1]));
    });
    // Within one imbalance check interval, leadership is back where placement put it.
    h.run(defaultControllerConfig.leaderImbalanceCheckIntervalMs + 500, [1, 2, 3]);
    expect(leadersOf(h, 't')).toEqual(preferred);
  });

  it('answers ElectLeaders per partition', () => {
    const h = new ControllerHarness({ autoLeaderRebalanceEnable: false });
    h.startBrokers([1, 2]);
    h.createTopic('t', 2, 2);
    const results = h.ok(
      h.controller.electPreferredLeaders([
        { topicName: 't', partitionIndex: 0 },
        { topicName: 'missing', partitionIndex: 0 },
      ]),
    );
    expect(results.map((r) => r.errorCode)).toEqual([E.ELECTION_NOT_NEEDED, E.UNKNOWN_TOPIC_OR_PARTITION]);
    const preferred = h.partition('t', 0).replicas[0]!;
    h.heartbeat(preferred, { wantFence: true });
    const unavailable = h.ok(h.controller.electPreferredLeaders([{ topicName: 't', partitionIndex: 0 }]));
    expect(unavailable[0]!.errorCode).toBe(E.PREFERRED_LEADER_NOT_AVAILABLE);
  });

  it('elects an out-of-ISR replica on UNCLEAN only when no ISR member is alive', () => {
    const h = new ControllerHarness({ autoLeaderRebalanceEnable: false });
    h.startBrokers([1, 2]);
    h.createTopic('t', 1, 2);
    const first = h.partition('t', 0).leader;
    const second = [1, 2].find((id) => id !== first)!;
    // A partition with a leader needs no election, clean or not.
    expect(h.ok(h.controller.electLeaders('unclean', [{ topicName: 't', partitionIndex: 0 }]))).toEqual([
      { topicName: 't', partitionIndex: 0, errorCode: E.ELECTION_NOT_NEEDED },
    ]);
    // The follower leaves the ISR, then the leader dies: the partition is offline with ISR [first].
    h.ok(h.alterIsr('t', 0, [first]));
    h.run(sessionMs + 1000, [second]);
    expect(h.partition('t', 0)).toMatchObject({ leader: -1, isr: [first] });
    // With no broker alive but one out of the ISR, UNCLEAN elects it with an ISR of just itself.
    const elected = h.controller.electLeaders('unclean', null);
    expect(elected.response).toEqual([{ topicName: 't', partitionIndex: 0, errorCode: E.NONE }]);
    h.commit(elected.records);
    expect(h.partition('t', 0)).toMatchObject({ leader: second, isr: [second] });
    expect(h.ok(h.controller.electLeaders('unclean', [{ topicName: 'nope', partitionIndex: 0 }]))).toEqual([
      { topicName: 'nope', partitionIndex: 0, errorCode: E.UNKNOWN_TOPIC_OR_PARTITION },
    ]);
  });

  it('answers UNCLEAN with ELIGIBLE_LEADERS_NOT_AVAILABLE when no replica is alive', () => {
    const h = new ControllerHarness({ autoLeaderRebalanceEnable: false });
    h.startBrokers([1, 2, 3]);
    h.createTopic('t', 1, 1);
    const only = h.partition('t', 0).leader;
    h.run(
      sessionMs + 1000,
      [1, 2, 3].filter((id) => id !== only),
    );
    expect(h.partition('t', 0).leader).toBe(-1);
    const outcome = h.controller.electLeaders('unclean', [{ topicName: 't', partitionIndex: 0 }]);
    expect(outcome.records).toEqual([]);
    expect(outcome.response[0]!.errorCode).toBe(E.ELIGIBLE_LEADERS_NOT_AVAILABLE);
  });
});

describe('topics', () => {
  it('spreads leaders and replicas evenly over 3 brokers', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const h = new ControllerHarness({}, seed);
      h.startBrokers([1, 2, 3]);
      h.createTopic('t', 30, 3);
      h.createTopic('u', 30, 2);
      for (const topic of ['t', 'u']) {
        const partitions = h.committed.topic(topic)!.partitions;
        const leaderCounts = [1, 2, 3].map((id) => partitions.filter((p) => p.leader === id).length);
        expect(leaderCounts).toEqual([10, 10, 10]);
        const replicaCounts = [1, 2, 3].map((id) => partitions.filter((p) => p.replicas.includes(id)).length);
        const replicationFactor = partitions[0]!.replicas.length;
        expect(replicaCounts).toEqual([1, 2, 3].map(() => 10 * replicationFactor));
        for (const partition of partitions) {
          expect(partition.isr).toEqual(partition.replicas);
          expect(partition.leader).toBe(partition.replicas[0]);
          expect(partition).toMatchObject({ leaderEpoch: 0, partitionEpoch: 0 });
        }
      }
    }
  });

  it('places replicas only on live brokers and refuses a replication factor above their number', () => {
    const h = new ControllerHarness();
    h.startBrokers([1, 2, 3]);
    h.heartbeat(3, { wantFence: true });
    const tooMany = h.controller.createTopic(
      { name: 't', numPartitions: 1, replicationFactor: 3, configs: [] },
      { validateOnly: false },
    );
    expect(h.fail(tooMany).errorCode).toBe(E.INVALID_REPLICATION_FACTOR);
    const zero = h.controller.createTopic(
      { name: 't', numPartitions: 1, replicationFactor: 0, configs: [] },
      { validateOnly: false },
    );
    expect(h.fail(zero).errorCode).toBe(E.INVALID_REPLICATION_FACTOR);
    h.createTopic('t', 4, 2);
    expect(h.committed.topic('t')!.partitions.every((p) => !p.replicas.includes(3))).toBe(true);
  });

  it('validates names, partition counts, configs and duplicates', () => {
    const h = new ControllerHarness();
    h.startBrokers([1]);
    const create = (name: string, numPartitions = 1, configs: { name: string; value: string }[] = []) =>
      h.controller.createTopic(
        { name, numPartitions, replicationFactor: 1, configs },
        { validateOnly: false },
      );
    for (const name of ['', '.', '..', 'a b', 'x'.repeat(250), 'ümlaut', '__cluster_metadata']) {
      expect(h.fail(create(name)).errorCode).toBe(E.INVALID_TOPIC_EXCEPTION);
    }
    h.ok(create('x'.repeat(249)));
    expect(h.fail(create('p', 0)).errorCode).toBe(E.INVALID_PARTITIONS);
    expect(h.fail(create('p', -2)).errorCode).toBe(E.INVALID_PARTITIONS);
    expect(h.fail(create('p', 10_001)).errorCode).toBe(E.INVALID_PARTITIONS);
    expect(h.fail(create('p', 1, [{ name: 'no.such.config', value: '1' }])).errorCode).toBe(E.INVALID_CONFIG);
    expect(h.fail(create('p', 1, [{ name: 'retention.ms', value: 'soon' }])).errorCode).toBe(
      E.INVALID_CONFIG,
    );
    // A long takes Java's whole range: Long.MAX_VALUE is how Kafka writes "never", and what
    // DescribeConfigs shows as flush.messages' default (librdkafka's test 0092 writes it back).
    h.ok(create('longs', 1, [{ name: 'flush.messages', value: '9223372036854775807' }]));
    expect(h.fail(create('p', 1, [{ name: 'flush.messages', value: '9223372036854775808' }])).errorCode).toBe(
      E.INVALID_CONFIG,
    );
    expect(h.fail(create('p', 1, [{ name: 'segment.bytes', value: '2147483648' }])).errorCode).toBe(
      E.INVALID_CONFIG,
    );
    h.createTopic('a.b', 1, 1);
    expect(h.fail(create('a.b')).errorCode).toBe(E.TOPIC_ALREADY_EXISTS);
    expect(h.fail(create('a_b')).errorCode).toBe(E.INVALID_TOPIC_EXCEPTION);
  });

  it('uses the defaults for -1 and stores configs', () => {
    const h = new ControllerHarness({ defaultNumPartitions: 3, defaultReplicationFactor: 2 });
    h.startBrokers([1, 2]);
    const response = h.ok(
      h.controller.createTopic(
        {
          name: 't',
          numPartitions: -1,
          replicationFactor: -1,
          configs: [{ name: 'retention.ms', value: '1000' }],
        },
        { validateOnly: false },
      ),
    );
    expect(response).toMatchObject({ numPartitions: 3, replicationFactor: 2 });
    expect(h.committed.topic('t')!.topicId).toBe(response.topicId);
    expect(h.committed.topicConfigs('t')).toEqual(new Map([['retention.ms', '1000']]));
  });

  it('changes nothing in validate-only mode', () => {
    const h = new ControllerHarness();
    h.startBrokers([1]);
    const before = h.controller.image;
    const outcome = h.controller.createTopic(
      { name: 't', numPartitions: 2, replicationFactor: 1, configs: [] },
      { validateOnly: true },
    );
    expect(isControllerError(outcome) ? outcome : outcome.records).toEqual([]);
    expect(h.controller.image).toBe(before);
    h.createTopic('t', 1, 1);
    const grow = h.controller.createPartitions({ name: 't', count: 4 }, { validateOnly: true });
    expect(isControllerError(grow) ? grow : grow.records).toEqual([]);
    expect(h.controller.image.topic('t')!.partitions).toHaveLength(1);
  });

  it('deletes topics by name or id, with their configs', () => {
    const h = new ControllerHarness();
    h.startBrokers([1]);
    const { topicId } = h.createTopic('t', 2, 1, { 'retention.ms': '5' });
    h.createTopic('u', 1, 1);
    expect(h.ok(h.controller.deleteTopic({ name: 't' }))).toEqual({ name: 't', topicId });
    expect(h.committed.topic('t')).toBeUndefined();
    expect(h.committed.topicById(topicId)).toBeUndefined();
    expect(h.committed.configsByTopic.has('t')).toBe(false);
    expect(h.fail(h.controller.deleteTopic({ name: 't' })).errorCode).toBe(E.UNKNOWN_TOPIC_OR_PARTITION);
    expect(h.fail(h.controller.deleteTopic({ topicId })).errorCode).toBe(E.UNKNOWN_TOPIC_ID);
    h.ok(h.controller.deleteTopic({ topicId: h.committed.topic('u')!.topicId }));
    expect(h.committed.topics.size).toBe(0);
  });

  it('refuses topics and partitions beyond max.broker.partitions with POLICY_VIOLATION naming the limit', () => {
    const h = new ControllerHarness({ partitionsPerBrokerMax: 10 });
    h.startBrokers([1, 2]);
    h.createTopic('a', 6, 2); // 6 replicas on each broker
    const tooMany = h.controller.createTopic(
      { name: 'b', numPartitions: 5, replicationFactor: 2, configs: [] },
      { validateOnly: false },
    );
    const refused = h.fail(tooMany);
    expect(refused.errorCode).toBe(E.POLICY_VIOLATION);
    expect(refused.errorMessage).toMatch(
      /would give broker 1 11 partition replicas .*max\.broker\.partitions=10/,
    );
    expect(h.committed.topic('b')).toBeUndefined();
    // Validate-only answers the same.
    expect(
      h.fail(
        h.controller.createTopic(
          { name: 'b', numPartitions: 5, replicationFactor: 2, configs: [] },
          { validateOnly: true },
        ),
      ).errorCode,
    ).toBe(E.POLICY_VIOLATION);
    // Exactly up to the limit is fine, one more partition is not.
    h.ok(h.controller.createPartitions({ name: 'a', count: 10 }, { validateOnly: false }));
    expect(h.committed.topic('a')!.partitions).toHaveLength(10);
    const grow = h.fail(h.controller.createPartitions({ name: 'a', count: 11 }, { validateOnly: false }));
    expect(grow.errorCode).toBe(E.POLICY_VIOLATION);
    expect(grow.errorMessage).toMatch(/max\.broker\.partitions=10/);
    // A third broker has room: single-replica partitions placed round robin still hit the full ones.
    h.startBrokers([3]);
    expect(
      h.fail(
        h.controller.createTopic(
          { name: 'c', numPartitions: 3, replicationFactor: 1, configs: [] },
          { validateOnly: false },
        ),
      ).errorCode,
    ).toBe(E.POLICY_VIOLATION);
  });

  it('adds partitions, continuing the round robin, and refuses a count that is not greater', () => {
    const h = new ControllerHarness();
    h.startBrokers([1, 2, 3]);
    h.createTopic('t', 3, 2);
    expect(
      h.fail(h.controller.createPartitions({ name: 't', count: 3 }, { validateOnly: false })).errorCode,
    ).toBe(E.INVALID_PARTITIONS);
    expect(
      h.fail(h.controller.createPartitions({ name: 'nope', count: 5 }, { validateOnly: false })).errorCode,
    ).toBe(E.UNKNOWN_TOPIC_OR_PARTITION);
    h.ok(h.controller.createPartitions({ name: 't', count: 9 }, { validateOnly: false }));
    const partitions = h.committed.topic('t')!.partitions;
    expect(partitions).toHaveLength(9);
    expect([1, 2, 3].map((id) => partitions.filter((p) => p.leader === id).length)).toEqual([3, 3, 3]);
    expect(partitions.every((p) => p.replicas.length === 2)).toBe(true);
  });

  it('creates a topic from a manual replica assignment, refused as Kafka refuses it', () => {
    const h = new ControllerHarness();
    h.startBrokers([1, 2, 3]);
    h.register(4); // registered, still fenced
    const create = (assignments: { partitionIndex: number; brokerIds: number[] }[], counts = [-1, -1]) =>
      h.controller.createTopic(
        { name: 'm', numPartitions: counts[0]!, replicationFactor: counts[1]!, configs: [], assignments },
        { validateOnly: false },
      );
    const refusal = (assignments: { partitionIndex: number; brokerIds: number[] }[], counts?: number[]) => {
      const failure = h.fail(create(assignments, counts));
      return [failure.errorCode, failure.errorMessage];
    };
    expect(refusal([{ partitionIndex: 0, brokerIds: [1, 9] }])).toEqual([
      E.INVALID_REPLICA_ASSIGNMENT,
      'The manual partition assignment includes broker 9, but no such broker is registered.',
    ]);
    expect(refusal([{ partitionIndex: 0, brokerIds: [2, 2] }])).toEqual([
      E.INVALID_REPLICA_ASSIGNMENT,
      'The manual partition assignment includes the broker 2 more than once.',
    ]);
    expect(refusal([{ partitionIndex: 0, brokerIds: [] }])).toEqual([
      E.INVALID_REPLICA_ASSIGNMENT,
      'The manual partition assignment includes an empty replica list.',
    ]);
    expect(
      refusal([
        { partitionIndex: 0, brokerIds: [1, 2] },
        { partitionIndex: 1, brokerIds: [3] },
      ]),
    ).toEqual([
      E.INVALID_REPLICA_ASSIGNMENT,
      'The manual partition assignment includes a partition with 1 replica(s), but this is not ' +
        'consistent with previous partitions, which have 2 replica(s).',
    ]);
    expect(
      refusal([
        { partitionIndex: 0, brokerIds: [1] },
        { partitionIndex: 0, brokerIds: [2] },
      ]),
    ).toEqual([E.INVALID_REPLICA_ASSIGNMENT, 'Found multiple manual partition assignments for partition 0']);
    expect(refusal([{ partitionIndex: 1, brokerIds: [1] }])).toEqual([
      E.INVALID_REPLICA_ASSIGNMENT,
      'partitions should be a consecutive 0-based integer sequence',
    ]);
    expect(refusal([{ partitionIndex: 0, brokerIds: [4] }])).toEqual([
      E.INVALID_REPLICA_ASSIGNMENT,
      'All brokers specified in the manual partition assignment for partition 0 are fenced or in ' +
        'controlled shutdown.',
    ]);
    expect(refusal([{ partitionIndex: 0, brokerIds: [1] }], [-1, 1])).toEqual([
      E.INVALID_REQUEST,
      'A manual partition assignment was specified, but replication factor was not set to -1.',
    ]);
    expect(refusal([{ partitionIndex: 0, brokerIds: [1] }], [1, -1])).toEqual([
      E.INVALID_REQUEST,
      'A manual partition assignment was specified, but numPartitions was not set to -1.',
    ]);
    expect(h.committed.topic('m')).toBeUndefined();

    // A fenced broker may be named: it is a replica, out of the ISR, and never the first leader.
    const created = h.ok(
      create([
        { partitionIndex: 1, brokerIds: [3, 1] },
        { partitionIndex: 0, brokerIds: [4, 2] },
      ]),
    );
    expect(created).toMatchObject({ numPartitions: 2, replicationFactor: 2 });
    const partitions = h.committed.topic('m')!.partitions;
    expect(partitions.map((p) => [p.replicas, p.isr, p.leader])).toEqual([
      [[4, 2], [2], 2],
      [[3, 1], [3, 1], 3],
    ]);
  });

  it('adds partitions from a manual assignment and refuses one that does not fit the topic', () => {
    const h = new ControllerHarness();
    h.startBrokers([1, 2, 3]);
    h.createTopic('t', 1, 2);
    const grow = (count: number, assignments: number[][] | null) =>
      h.controller.createPartitions({ name: 't', count, assignments }, { validateOnly: false });
    const refusal = (count: number, assignments: number[][] | null) => {
      const failure = h.fail(grow(count, assignments));
      return [failure.errorCode, failure.errorMessage];
    };
    expect(refusal(3, [[1, 2]])).toEqual([
      E.INVALID_REPLICA_ASSIGNMENT,
      'Attempted to add 2 additional partition(s), but only 1 assignment(s) were specified.',
    ]);
    expect(refusal(2, [[1, 7]])).toEqual([
      E.INVALID_REPLICA_ASSIGNMENT,
      'The manual partition assignment includes broker 7, but no such broker is registered.',
    ]);
    expect(refusal(2, [[1, 2, 3]])).toEqual([
      E.INVALID_REPLICA_ASSIGNMENT,
      'The manual partition assignment includes a partition with 3 replica(s), but this is not ' +
        'consistent with previous partitions, which have 2 replica(s).',
    ]);
    expect(refusal(1, null)).toEqual([E.INVALID_PARTITIONS, 'Topic already has 1 partition(s).']);
    h.ok(
      grow(3, [
        [3, 1],
        [2, 3],
      ]),
    );
    expect(
      h.committed
        .topic('t')!
        .partitions.slice(1)
        .map((p) => [p.replicas, p.leader]),
    ).toEqual([
      [[3, 1], 3],
      [[2, 3], 2],
    ]);
  });

  it('sets and deletes topic configs incrementally', () => {
    const h = new ControllerHarness();
    h.startBrokers([1]);
    h.createTopic('t', 1, 1, { 'retention.ms': '100', 'cleanup.policy': 'compact' });
    const alter = (operations: { name: string; operation: 'set' | 'delete'; value: string | null }[]) =>
      h.controller.incrementalAlterTopicConfigs({ topicName: 't', operations }, { validateOnly: false });
    h.ok(
      alter([
        { name: 'retention.ms', operation: 'set', value: '200' },
        { name: 'cleanup.policy', operation: 'delete', value: null },
      ]),
    );
    expect(h.committed.topicConfigs('t')).toEqual(new Map([['retention.ms', '200']]));
    // Setting a value it already has writes nothing.
    const same = alter([{ name: 'retention.ms', operation: 'set', value: '200' }]);
    expect(isControllerError(same) ? same : same.records).toEqual([]);
    expect(h.fail(alter([{ name: 'bogus', operation: 'set', value: '1' }])).errorCode).toBe(E.INVALID_CONFIG);
    expect(
      h.fail(
        alter([
          { name: 'retention.ms', operation: 'set', value: '1' },
          { name: 'retention.ms', operation: 'delete', value: null },
        ]),
      ).errorCode,
    ).toBe(E.INVALID_REQUEST);
    const missing = h.controller.incrementalAlterTopicConfigs(
      { topicName: 'x', operations: [] },
      { validateOnly: false },
    );
    expect(h.fail(missing).errorCode).toBe(E.UNKNOWN_TOPIC_OR_PARTITION);
  });
});

describe('AlterPartition', () => {
  function setUp() {
    const h = new ControllerHarness();
    h.startBrokers([1, 2, 3]);
    h.createTopic('t', 1, 3);
    return h;
  }

  it('accepts an ISR change from the leader with current epochs and bumps the partition epoch', () => {
    const h = setUp();
    const before = h.partition('t', 0);
    const shrunk = before.isr
      .filter((id) => id !== before.leader)
      .slice(0, 1)
      .concat(before.leader);
    const response = h.ok(h.alterIsr('t', 0, shrunk));
    expect(response).toEqual({
      leader: before.leader,
      leaderEpoch: before.leaderEpoch,
      isr: shrunk,
      partitionEpoch: before.partitionEpoch + 1,
    });
    expect(h.partition('t', 0)).toMatchObject({ isr: shrunk, partitionEpoch: before.partitionEpoch + 1 });
  });

  it('refuses stale partition and leader epochs', () => {
    const h = setUp();
    const before = h.partition('t', 0);
    const topicId = h.committed.topic('t')!.topicId;
    const request = {
      brokerId: before.leader,
      brokerEpoch: h.brokerEpochs.get(before.leader)!,
      topicId,
      partitionIndex: 0,
      leaderEpoch: before.leaderEpoch,
      partitionEpoch: before.partitionEpoch,
      newIsr: [before.leader],
    };
    h.ok(h.controller.alterPartition(request));
    const committed = h.partition('t', 0);
    // The same request again (its answer was lost): the ISR already is what it asks, so the answer
    // is the current state, and nothing is written.
    const resent = h.controller.alterPartition(request);
    expect(h.ok(resent)).toEqual({
      leader: committed.leader,
      leaderEpoch: committed.leaderEpoch,
      isr: committed.isr,
      partitionEpoch: committed.partitionEpoch,
    });
    expect('records' in resent ? resent.records : undefined).toEqual([]);
    // A stale partition epoch asking for a different ISR is refused: another change won.
    const other = before.replicas.find((id) => id !== before.leader)!;
    expect(
      h.fail(h.controller.alterPartition({ ...request, newIsr: [before.leader, other] })).errorCode,
    ).toBe(E.INVALID_UPDATE_VERSION);
    // Leadership moves: the old leader's epoch is fenced.
    h.ok(h.alterIsr('t', 0, before.replicas));
    h.heartbeat(before.leader, { wantShutDown: true });
    const stale = h.controller.alterPartition({
      ...request,
      partitionEpoch: h.partition('t', 0).partitionEpoch,
    });
    expect(h.fail(stale).errorCode).toBe(E.FENCED_LEADER_EPOCH);
  });

  it('refuses requests from a non-leader, bad ISRs and fenced members', () => {
    const h = setUp();
    const state = h.partition('t', 0);
    const topicId = h.committed.topic('t')!.topicId;
    const follower = state.replicas.find((id) => id !== state.leader)!;
    const base = {
      brokerId: state.leader,
      brokerEpoch: h.brokerEpochs.get(state.leader)!,
      topicId,
      partitionIndex: 0,
      leaderEpoch: state.leaderEpoch,
      partitionEpoch: state.partitionEpoch,
      newIsr: state.isr,
    };
    const fromFollower = { ...base, brokerId: follower, brokerEpoch: h.brokerEpochs.get(follower)! };
    expect(h.fail(h.controller.alterPartition(fromFollower)).errorCode).toBe(E.INVALID_REQUEST);
    expect(h.fail(h.controller.alterPartition({ ...base, brokerEpoch: 999 })).errorCode).toBe(
      E.STALE_BROKER_EPOCH,
    );
    expect(h.fail(h.controller.alterPartition({ ...base, newIsr: [follower] })).errorCode).toBe(
      E.INVALID_REQUEST,
    );
    expect(h.fail(h.controller.alterPartition({ ...base, newIsr: [state.leader, 42] })).errorCode).toBe(
      E.INVALID_REQUEST,
    );
    expect(h.fail(h.controller.alterPartition({ ...base, partitionIndex: 5 })).errorCode).toBe(
      E.UNKNOWN_TOPIC_OR_PARTITION,
    );
    expect(h.fail(h.controller.alterPartition({ ...base, leaderEpoch: 7 })).errorCode).toBe(E.NOT_CONTROLLER);

    // A fenced broker may never join the ISR.
    h.ok(h.alterIsr('t', 0, [state.leader]));
    h.heartbeat(follower, { wantFence: true });
    const readd = h.alterIsr('t', 0, [state.leader, follower]);
    expect(h.fail(readd).errorCode).toBe(E.INELIGIBLE_REPLICA);
  });
});

describe('producer ids', () => {
  it('hands out disjoint blocks, across brokers and controller failovers', () => {
    const h = new ControllerHarness();
    h.startBrokers([1, 2, 3]);
    const blocks: [number, number][] = [];
    const allocate = (brokerId: number) => {
      const block = h.ok(
        h.controller.allocateProducerIds({ brokerId, brokerEpoch: h.brokerEpochs.get(brokerId)! }),
      );
      blocks.push([block.firstProducerId, block.firstProducerId + block.producerIdCount]);
    };
    for (let round = 0; round < 5; round++) {
      for (const brokerId of [1, 2, 3]) allocate(brokerId);
      h.failover();
    }
    blocks.sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < blocks.length; i++) expect(blocks[i]![0]).toBeGreaterThanOrEqual(blocks[i - 1]![1]);
    expect(blocks[0]).toEqual([0, defaultControllerConfig.producerIdBlockSize]);
    const stale = h.controller.allocateProducerIds({ brokerId: 1, brokerEpoch: 999 });
    expect(h.fail(stale).errorCode).toBe(E.STALE_BROKER_EPOCH);
  });
});

describe('controller failover', () => {
  it('continues from the committed image and gives every broker a fresh session', () => {
    const h = new ControllerHarness();
    h.startBrokers([1, 2, 3]);
    h.createTopic('t', 3, 3);
    h.run(1000, [1, 2, 3]);
    const imageBefore = h.committed;

    // The old controller dies; the new one activates 3 s later (an election), having heard nobody.
    h.nowMs += 3000;
    h.failover(3001);
    expect(h.committed.controller).toEqual({ controllerId: 3001, controllerEpoch: h.controllerEpoch });
    for (const brokerId of [1, 2, 3]) {
      expect(h.controller.sessionDeadlineMs(brokerId)).toBe(h.nowMs + sessionMs);
    }
    // Nothing is fenced just for the controller change...
    expect(h.run(1000, [1, 2, 3])).toEqual([]);
    expect(h.committed.topics).toEqual(imageBefore.topics);
    // ...the controller refuses what its predecessor already did...
    const again = h.controller.createTopic(
      { name: 't', numPartitions: 1, replicationFactor: 1, configs: [] },
      { validateOnly: false },
    );
    expect(h.fail(again).errorCode).toBe(E.TOPIC_ALREADY_EXISTS);
    // ...and a broker that really died is still fenced, one session after activation at the latest.
    expect(h.run(sessionMs + 500, [1, 2])).toEqual([3]);
  });

  it('gives the deposed controller broker a two-heartbeat session, kept alive by heartbeats', () => {
    const h = new ControllerHarness();
    h.startBrokers([1, 2, 3]);
    h.createTopic('t', 3, 3);
    // Broker 3 leads the quorum (controller and broker in one node), then broker 1 takes over.
    h.failover(3);
    h.run(1000, [1, 2, 3]);
    h.failover(1);
    const heartbeatMs = defaultControllerConfig.brokerHeartbeatIntervalMs;
    expect(h.controller.sessionDeadlineMs(3)).toBe(h.nowMs + 2 * heartbeatMs);
    expect(h.controller.sessionDeadlineMs(2)).toBe(h.nowMs + sessionMs);
    // A live deposed controller that keeps heartbeating is not fenced...
    expect(h.run(4 * heartbeatMs, [1, 2, 3])).toEqual([]);
    // ...a dead one is fenced well before a full session.
    h.failover(2);
    expect(h.run(3 * heartbeatMs, [2, 3])).toEqual([1]);
  });

  it('makes a broker fenced at activation catch up to the activation offset', () => {
    const h = new ControllerHarness();
    h.startBrokers([1]);
    const registrationOffset = h.logEndOffset;
    h.register(2);
    h.createTopic('t', 1, 1);
    h.failover();
    expect(h.heartbeat(2, { offset: registrationOffset + 1 }).isFenced).toBe(true);
    expect(h.heartbeat(2, { offset: h.logEndOffset - 1 }).isFenced).toBe(false);
  });

  it('refuses an activation of another controller that does not advance the controller epoch', () => {
    const h = new ControllerHarness();
    expect(() => {
      h.controllerEpoch -= 1;
      h.failover(3001);
    }).toThrow(InvariantViolation);
  });

  it('rebuilds the same controller in the same epoch from the committed image, with nothing to propose', () => {
    // After a failed proposal the active controller throws its working image away and starts again
    // from what is committed, still the leader of the same epoch.
    const h = new ControllerHarness();
    h.startBrokers([1]);
    h.createTopic('t', 1, 1);
    const { controller, records } = Controller.activate({
      image: h.committed,
      controllerId: 3000,
      controllerEpoch: h.controllerEpoch,
      clusterId,
      nowMs: h.nowMs,
      metadataLogEndOffset: h.logEndOffset,
      random: new SeededRandom(1),
      secretBytes: (byteCount) => Buffer.alloc(byteCount, 1),
      config: {},
    });
    expect(records).toEqual([]);
    expect(controller.image).toBe(h.committed);
    h.controller = controller;
    h.createTopic('u', 1, 1);
    expect(h.committed.topic('u')).toBeDefined();
  });
});

describe('a failed log dir (offline replicas)', () => {
  function offlineOn(h: ControllerHarness, brokerId: number, topic: string, indexes: readonly number[]) {
    const topicId = h.committed.topic(topic)!.topicId;
    return h.heartbeat(brokerId, {
      offlineLogDirs: ['/data/b'],
      offlineReplicas: indexes.map((partitionIndex) => ({ topicId, partitionIndex })),
    });
  }

  it('moves leadership of the dir’s partitions to another ISR member and drops the replica from the ISR', () => {
    const h = new ControllerHarness();
    h.startBrokers([1, 2, 3]);
    h.createTopic('t', 6, 3);
    const before = h.committed.topic('t')!.partitions;
    const ledBy1 = before.flatMap((p, i) => (p.leader === 1 ? [i] : []));
    expect(ledBy1.length).toBeGreaterThan(0);
    const failed = [0, 1, 2, 3, 4, 5].filter((i) => i % 2 === 0 || ledBy1.includes(i));

    const response = offlineOn(h, 1, 't', failed);
    // The broker itself stays registered and unfenced: only the replicas on the dir are offline.
    expect(response).toEqual({ isCaughtUp: true, isFenced: false, shouldShutDown: false });
    const broker = h.committed.broker(1)!;
    expect(broker.fenced).toBe(false);
    expect(broker.offlineLogDirs).toEqual(['/data/b']);
    const after = h.committed.topic('t')!.partitions;
    for (let i = 0; i < 6; i++) {
      if (failed.includes(i)) {
        expect(after[i]!.isr, `t-${i}`).not.toContain(1);
        expect(after[i]!.leader, `t-${i}`).not.toBe(1);
        expect(after[i]!.leader, `t-${i}`).not.toBe(-1);
        expect(after[i]!.partitionEpoch).toBe(before[i]!.partitionEpoch + 1);
        expect(after[i]!.leaderEpoch).toBe(before[i]!.leaderEpoch + (before[i]!.leader === 1 ? 1 : 0));
      } else {
        // Partitions on the broker's other dir keep it, as leader and in the ISR.
        expect(after[i], `t-${i}`).toEqual(before[i]);
      }
    }
  });

  it('reports each replica once: a heartbeat repeating known offline replicas proposes nothing', () => {
    const h = new ControllerHarness();
    h.startBrokers([1, 2, 3]);
    h.createTopic('t', 2, 3);
    offlineOn(h, 2, 't', [0]);
    const topicId = h.committed.topic('t')!.topicId;
    const outcome = h.controller.brokerHeartbeat(
      {
        brokerId: 2,
        brokerEpoch: h.brokerEpochs.get(2)!,
        currentMetadataOffset: h.logEndOffset - 1,
        wantFence: false,
        wantShutDown: false,
        offlineLogDirs: ['/data/b'],
        offlineReplicas: [
          { topicId, partitionIndex: 0 },
          // Unknown partitions (a topic deleted meanwhile) are skipped, not an error.
          { topicId, partitionIndex: 7 },
          { topicId: incarnation(99), partitionIndex: 0 },
        ],
      },
      h.nowMs,
      h.logEndOffset,
    );
    expect(isControllerError(outcome)).toBe(false);
    if (!isControllerError(outcome)) expect(outcome.records).toEqual([]);
  });

  it('never elects an offline replica again, even when the other replicas come and go', () => {
    const h = new ControllerHarness();
    h.startBrokers([1, 2, 3]);
    h.createTopic('t', 1, 3);
    const leader = h.partition('t', 0).leader;
    offlineOn(h, leader, 't', [0]);
    const others = [1, 2, 3].filter((id) => id !== leader);
    expect(others).toContain(h.partition('t', 0).leader);
    // The two healthy replicas die one after the other: the ISR shrinks to the last of them and the
    // partition goes offline rather than to the live broker whose replica is offline.
    h.run(sessionMs + 1000, [leader, others[1]!]);
    h.run(sessionMs + 1000, [leader]);
    expect(h.partition('t', 0).leader).toBe(-1);
    expect(h.partition('t', 0).isr).not.toContain(leader);
    // Preferred-leader elections and AlterPartition refuse it too.
    expect(h.controller.electPreferredLeaders([{ topicName: 't', partitionIndex: 0 }]).response).toEqual([
      { topicName: 't', partitionIndex: 0, errorCode: E.PREFERRED_LEADER_NOT_AVAILABLE },
    ]);
    expect(h.partition('t', 0).leader).toBe(-1);
    // The last ISR member returns and leads again; it may not add the offline replica to the ISR.
    const last = h.partition('t', 0).isr[0]!;
    h.register(last);
    h.run(1000, [leader, last]);
    expect(h.partition('t', 0).leader).toBe(last);
    const refused = h.fail(h.alterIsr('t', 0, [last, leader]));
    expect(refused.errorCode).toBe(E.INELIGIBLE_REPLICA);
  });

  it('leaves a partition offline when the failed replica was its last ISR member, unless unclean election is on', () => {
    for (const unclean of [false, true]) {
      const h = new ControllerHarness();
      h.startBrokers([1, 2, 3]);
      h.createTopic('t', 1, 3, unclean ? { 'unclean.leader.election.enable': 'true' } : {});
      const leader = h.partition('t', 0).leader;
      h.ok(h.alterIsr('t', 0, [leader]));
      expect(h.partition('t', 0).isr).toEqual([leader]);
      offlineOn(h, leader, 't', [0]);
      const state = h.partition('t', 0);
      if (unclean) {
        expect(state.leader).not.toBe(leader);
        expect(state.leader).not.toBe(-1);
        expect(state.isr).toEqual([state.leader]);
      } else {
        // The ISR never empties: the failed replica stays its last member and nobody leads.
        expect(state).toMatchObject({ leader: -1, isr: [leader] });
      }
    }
  });

  it('forgets the offline replicas when the broker registers again (a restart)', () => {
    const h = new ControllerHarness();
    h.startBrokers([1, 2, 3]);
    h.createTopic('t', 3, 3);
    offlineOn(h, 3, 't', [0, 1, 2]);
    expect(h.committed.broker(3)!.offlineReplicas.size).toBe(1);
    h.run(sessionMs + 1000, [1, 2]);
    h.register(3);
    expect(h.committed.broker(3)).toMatchObject({ offlineLogDirs: [], offlineReplicas: new Map() });
    h.run(1000, [1, 2, 3]);
    // Back in the ISR once it catches up (its leader proposes it), and electable again.
    const leader = h.partition('t', 0).leader;
    expect(h.ok(h.alterIsr('t', 0, [leader, 3])).isr).toContain(3);
  });

  it('refuses a heartbeat reporting more offline replicas than its limit', () => {
    const h = new ControllerHarness();
    h.startBrokers([1]);
    const outcome = h.controller.brokerHeartbeat(
      {
        brokerId: 1,
        brokerEpoch: h.brokerEpochs.get(1)!,
        currentMetadataOffset: h.logEndOffset - 1,
        wantFence: false,
        wantShutDown: false,
        offlineReplicas: Array.from({ length: offlineReplicasPerHeartbeatMax + 1 }, (_, partitionIndex) => ({
          topicId: incarnation(1),
          partitionIndex,
        })),
      },
      h.nowMs,
      h.logEndOffset,
    );
    expect(h.fail(outcome).errorCode).toBe(E.INVALID_REQUEST);
  });
});

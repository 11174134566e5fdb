// The internal topics' creation on first use, against the in-process controller: a FindCoordinator
// waits for the creation it started at most internalTopicCreateWaitMs, so a slow creation (50
// partitions on a loaded machine) is answered as Kafka answers it, COORDINATOR_NOT_AVAILABLE, while
// the creation goes on; one creation at a time; a failed controller call is logged, not thrown.

import { afterEach, describe, expect, it } from 'vitest';
import type { BrokerContext, ControllerChannel } from '../apis/broker-context.js';
import { LocalClusterFixture } from '../testing/local-cluster-fixture.js';
import { internalTopicCreateWaitMs, OffsetsTopicCreator, offsetsTopicName } from './offsets-topic.js';

let cluster: LocalClusterFixture;

afterEach(async () => {
  await cluster.close();
});

/** The fixture's broker context, with a controller whose createTopics the test holds or breaks. */
function withController(createTopics: ControllerChannel['createTopics']): BrokerContext {
  const controller: ControllerChannel = Object.create(cluster.context.controller);
  return { ...cluster.context, controller: Object.assign(controller, { createTopics }) };
}

/** Event-loop turns given to pending I/O and callbacks before asking whether a promise settled. */
const turnsGiven = 50;

/** Whether `promise` has settled once pending I/O and callbacks have had `turnsGiven` turns. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  void promise.then(
    () => {
      done = true;
    },
    () => {
      done = true;
    },
  );
  for (let turn = 0; turn < turnsGiven && !done; turn++) {
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return done;
}

describe('OffsetsTopicCreator', () => {
  it('resolves as soon as a quick creation has put the topic in the image', async () => {
    cluster = await LocalClusterFixture.start();
    const creator = new OffsetsTopicCreator({ numPartitions: 3, replicationFactor: 1 }, cluster.timers);
    // No time passes on the manual clock: only the creation can resolve it.
    await creator.ensure(cluster.context);
    expect(cluster.image().topic(offsetsTopicName)?.partitions.length).toBe(3);
  });

  it('stops waiting for a slow creation after the wait, lets it finish, and starts only one', async () => {
    cluster = await LocalClusterFixture.start();
    let calls = 0;
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const context = withController(async (requests, options) => {
      calls++;
      await held;
      return cluster.createTopics(requests, options);
    });
    const creator = new OffsetsTopicCreator({ numPartitions: 2, replicationFactor: 1 }, cluster.timers);

    const first = creator.ensure(context);
    const second = creator.ensure(context);
    expect(await settled(first)).toBe(false);
    cluster.advanceMs(internalTopicCreateWaitMs - 1);
    expect(await settled(first)).toBe(false);
    cluster.advanceMs(1);
    expect(await settled(first)).toBe(true);
    expect(await settled(second)).toBe(true);
    // Answered without the topic (the handler says COORDINATOR_NOT_AVAILABLE), creation still under way.
    expect(cluster.image().topic(offsetsTopicName)).toBeUndefined();
    const third = creator.ensure(context);
    expect(calls).toBe(1);

    release();
    // Manual time stands still: only the creation finishing can resolve it.
    await third;
    expect(cluster.image().topic(offsetsTopicName)?.partitions.length).toBe(2);
    await creator.ensure(context);
    expect(calls).toBe(1);
  });

  it('logs a controller call that throws and tries again on the next call', async () => {
    cluster = await LocalClusterFixture.start();
    let calls = 0;
    const context = withController(async (requests, options) => {
      calls++;
      if (calls === 1) throw new Error('controller connection closed');
      return cluster.createTopics(requests, options);
    });
    const creator = new OffsetsTopicCreator({ numPartitions: 1, replicationFactor: 1 }, cluster.timers);

    await creator.ensure(context);
    expect(cluster.image().topic(offsetsTopicName)).toBeUndefined();
    await creator.ensure(context);
    expect(calls).toBe(2);
    expect(cluster.image().topic(offsetsTopicName)?.partitions.length).toBe(1);
  });
});

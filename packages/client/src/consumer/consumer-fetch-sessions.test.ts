// The consumer's fetch sessions (KIP-227) over a scripted broker that keeps sessions as Kafka's
// does: what each Fetch carries (session id, epoch, partitions, forgotten ones), and how the
// consumer falls back to full fetches on the session errors and when the broker gives no session.

import { waitFor } from '@gregor/ground/testing';
import { ErrorCode } from '@gregor/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import type { Cluster } from '../cluster.js';
import { createLogger, logLevel } from '../logger.js';
import { type ScriptedFetchBody, ScriptedGroupCluster } from '../testing/scripted-group-cluster.js';
import { Consumer } from './consumer.js';

const partitions = [0, 1, 2, 3];

interface FetchSent {
  readonly sessionId: number;
  readonly sessionEpoch: number;
  readonly partitions: string[];
  readonly forgotten: string[];
}

/** One broker (coordinator and leader of `orders`) whose Fetch keeps a session as Kafka's does. */
class ScriptedSessionBroker extends ScriptedGroupCluster {
  readonly fetches: FetchSent[] = [];
  /** false: answer every Fetch with session id 0, as a broker without sessions does. */
  givesSessions = true;
  /** Errors to answer the next Fetches with, one each. */
  readonly fetchErrors: number[] = [];
  private nextSessionId = 77;
  private session: { id: number; epoch: number } | undefined;

  constructor() {
    super(new Map([['orders', partitions]]), { committedOffset: 5n });
  }

  protected fetch(body: ScriptedFetchBody): unknown {
    this.fetches.push({
      sessionId: body.sessionId,
      sessionEpoch: body.sessionEpoch,
      partitions: body.topics.flatMap((topic) =>
        topic.partitions.map((partition) => `${topic.topic}-${partition.partition}@${partition.fetchOffset}`),
      ),
      forgotten: body.forgottenTopicsData.flatMap((topic) =>
        topic.partitions.map((index) => `${topic.topic}-${index}`),
      ),
    });
    const failed = (errorCode: number) => ({ throttleTimeMs: 0, errorCode, sessionId: 0, responses: [] });
    const injected = this.fetchErrors.shift();
    if (injected !== undefined) return failed(injected);
    const answerAll = () => ({
      responses: body.topics.map((topic) => ({
        topic: topic.topic,
        partitions: topic.partitions.map((partition) => ({
          partitionIndex: partition.partition,
          errorCode: 0,
          highWatermark: 5n,
          abortedTransactions: null,
          records: null,
        })),
      })),
    });
    if (body.sessionEpoch === 0 || body.sessionEpoch === -1) {
      this.session =
        this.givesSessions && body.sessionEpoch === 0 ? { id: this.nextSessionId++, epoch: 1 } : undefined;
      return { throttleTimeMs: 0, errorCode: 0, sessionId: this.session?.id ?? 0, ...answerAll() };
    }
    if (this.session === undefined || this.session.id !== body.sessionId) {
      return failed(ErrorCode.FETCH_SESSION_ID_NOT_FOUND);
    }
    if (this.session.epoch !== body.sessionEpoch) return failed(ErrorCode.INVALID_FETCH_SESSION_EPOCH);
    this.session.epoch++;
    // Nothing new anywhere: only the partitions the request named (added or changed) are answered.
    return { throttleTimeMs: 0, errorCode: 0, sessionId: this.session.id, ...answerAll() };
  }
}

const logger = createLogger(logLevel.NOTHING, () => () => undefined);
let consumer: Consumer | undefined;

async function start(broker: ScriptedSessionBroker): Promise<Consumer> {
  consumer = new Consumer(broker as unknown as Cluster, logger, {
    groupId: 'billing',
    heartbeatInterval: 1000,
    maxWaitTimeInMs: 5,
  });
  await consumer.subscribe({ topic: 'orders' });
  await consumer.run({ eachMessage: async () => undefined, autoCommit: false });
  return consumer;
}

afterEach(async () => {
  await consumer?.disconnect();
  consumer = undefined;
});

const allAt = (offset: number) => partitions.map((partition) => `orders-${partition}@${offset}`);

describe('the consumer in a fetch session', () => {
  it('sends every partition once, then nothing while nothing changes, then only what changed', async () => {
    const broker = new ScriptedSessionBroker();
    const member = await start(broker);
    await waitFor('incremental fetches', () => broker.fetches.length >= 4 || undefined);
    const [full, ...incremental] = broker.fetches;
    expect(full).toEqual({ sessionId: 0, sessionEpoch: 0, partitions: allAt(5), forgotten: [] });
    expect(incremental.slice(0, 3)).toEqual(
      [1, 2, 3].map((sessionEpoch) => ({
        sessionId: 77,
        sessionEpoch,
        partitions: [],
        forgotten: [],
      })),
    );

    const before = broker.fetches.length;
    member.seek({ topic: 'orders', partition: 2, offset: '9' });
    await waitFor(
      'the seek sent',
      () => broker.fetches.slice(before).find((fetch) => fetch.partitions.length > 0) ?? undefined,
    );
    const changed = broker.fetches.slice(before).find((fetch) => fetch.partitions.length > 0)!;
    expect(changed).toMatchObject({ sessionId: 77, partitions: ['orders-2@9'], forgotten: [] });

    member.pause([{ topic: 'orders', partitions: [1] }]);
    await waitFor(
      'the pause sent',
      () => broker.fetches.slice(before).find((fetch) => fetch.forgotten.length > 0) ?? undefined,
    );
    expect(broker.fetches.slice(before).find((fetch) => fetch.forgotten.length > 0)).toMatchObject({
      sessionId: 77,
      partitions: [],
      forgotten: ['orders-1'],
    });
    expect(broker.fetches.every((fetch) => fetch.sessionEpoch >= 0)).toBe(true);
  });

  it('falls back to a full fetch on FETCH_SESSION_ID_NOT_FOUND (new session) and INVALID_FETCH_SESSION_EPOCH (closing the old)', async () => {
    const broker = new ScriptedSessionBroker();
    await start(broker);
    await waitFor('a session', () => broker.fetches.length >= 2 || undefined);
    broker.fetchErrors.push(ErrorCode.FETCH_SESSION_ID_NOT_FOUND);
    const afterNotFound = broker.fetches.length + 1;
    await waitFor('the fetch after the error', () => broker.fetches.length > afterNotFound || undefined);
    expect(broker.fetches[afterNotFound]).toEqual({
      sessionId: 0,
      sessionEpoch: 0,
      partitions: allAt(5),
      forgotten: [],
    });

    await waitFor('the new session in use', () => broker.fetches.at(-1)!.sessionId === 78 || undefined);
    broker.fetchErrors.push(ErrorCode.INVALID_FETCH_SESSION_EPOCH);
    const afterEpoch = broker.fetches.length + 1;
    await waitFor('the fetch after the error', () => broker.fetches.length > afterEpoch || undefined);
    expect(broker.fetches[afterEpoch]).toEqual({
      sessionId: 78,
      sessionEpoch: 0,
      partitions: allAt(5),
      forgotten: [],
    });
    await waitFor('a third session', () => broker.fetches.at(-1)!.sessionId === 79 || undefined);
  });

  it('keeps sending full fetches to a broker that answers session id 0', async () => {
    const broker = new ScriptedSessionBroker();
    broker.givesSessions = false;
    await start(broker);
    await waitFor('fetches', () => broker.fetches.length >= 4 || undefined);
    for (const fetch of broker.fetches) {
      expect(fetch).toEqual({ sessionId: 0, sessionEpoch: 0, partitions: allAt(5), forgotten: [] });
    }
  });

  it('closes its session on stop() with epoch -1 and no partitions', async () => {
    const broker = new ScriptedSessionBroker();
    const member = await start(broker);
    await waitFor('a session', () => broker.fetches.at(-1)?.sessionId === 77 || undefined);
    await member.disconnect();
    consumer = undefined;
    expect(broker.fetches.at(-1)).toEqual({ sessionId: 77, sessionEpoch: -1, partitions: [], forgotten: [] });
  });
});

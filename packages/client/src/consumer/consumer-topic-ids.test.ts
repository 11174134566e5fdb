// The consumer names topics by id in Fetch (v13+, KIP-516) when the broker speaks it and the
// metadata gave the topic's id, and by name otherwise; the answer, by id, reaches the handlers under
// the topic's name. A fetch session names its topics one way: when the way changes (an id became
// known), the consumer starts a new session with a full fetch.

import { waitFor } from '@gregor/ground/testing';
import { ApiKey, zeroUuid } from '@gregor/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import type { Cluster } from '../cluster.js';
import { createLogger, logLevel } from '../logger.js';
import { sleep } from '../retry.js';
import {
  type ScriptedFetchBody,
  ScriptedGroupCluster,
  scriptedRecords,
} from '../testing/scripted-group-cluster.js';
import { Consumer } from './consumer.js';

const ordersId = '0123456789abcdef0123456789abcdef';

interface SentFetch {
  readonly version: number;
  readonly sessionId: number;
  readonly sessionEpoch: number;
  readonly topics: { topic: string; topicId: string; partitions: { fetchOffset: bigint }[] }[];
}

/** One partition of `orders`; Fetch up to `fetchVersionMax`; two records per Fetch. */
class IdBroker extends ScriptedGroupCluster {
  readonly fetches: SentFetch[] = [];
  readonly ids = new Map<string, string>();
  constructor(private readonly fetchVersionMax: number) {
    super(new Map([['orders', [0]]]));
  }
  override topicIdOf(topic: string): string | undefined {
    return this.ids.get(topic);
  }
  override topicNameOf(topicId: string): string | undefined {
    return [...this.ids].find(([, id]) => id === topicId)?.[0];
  }
  override async sendVersioned(
    nodeId: number,
    apiKey: number,
    body: (version: number) => Record<string, unknown>,
    _timeoutMs?: number,
    maxVersion = 13,
  ) {
    if (apiKey !== ApiKey.Fetch) return super.sendVersioned(nodeId, apiKey, body);
    const version = Math.min(this.fetchVersionMax, maxVersion);
    const request = body(version) as unknown as SentFetch;
    this.fetches.push({ ...request, version });
    await sleep(2);
    const { fetchOffset } = request.topics[0]!.partitions[0]!;
    return {
      throttleTimeMs: 0,
      errorCode: 0,
      sessionId: 77,
      responses: [
        {
          // As Kafka answers: by id from v13 (no name), by name before (no id).
          topic: version >= 13 ? '' : 'orders',
          topicId: version >= 13 ? request.topics[0]!.topicId : zeroUuid,
          partitions: [
            {
              partitionIndex: 0,
              errorCode: 0,
              highWatermark: fetchOffset + 10n,
              abortedTransactions: null,
              records: scriptedRecords(0, fetchOffset, 2),
            },
          ],
        },
      ],
    };
  }
  protected fetch(_body: ScriptedFetchBody): unknown {
    throw new Error('Fetch goes through sendVersioned');
  }
}

let consumer: Consumer | undefined;
afterEach(async () => {
  await consumer?.disconnect();
  consumer = undefined;
});

async function consume(broker: IdBroker, until: (seen: string[]) => boolean): Promise<string[]> {
  consumer = new Consumer(
    broker as unknown as Cluster,
    createLogger(logLevel.NOTHING, () => () => undefined),
    {
      groupId: 'readers',
      maxWaitTimeInMs: 5,
      heartbeatInterval: 5,
    },
  );
  const seen: string[] = [];
  await consumer.subscribe({ topic: 'orders' });
  await consumer.run({
    eachMessage: async ({ topic, message }) => {
      seen.push(`${topic}:${message.value}`);
    },
  });
  await waitFor('the records', () => until(seen), { timeoutMs: 5_000 });
  return seen;
}

describe('Fetch by topic id', () => {
  it('names the topic by id at v13 when its id is known, and hands the answer on under its name', async () => {
    const broker = new IdBroker(13);
    broker.ids.set('orders', ordersId);
    const seen = await consume(broker, (records) => records.length >= 4);
    expect(seen.slice(0, 4)).toEqual(['orders:0:0', 'orders:0:1', 'orders:0:2', 'orders:0:3']);
    expect(broker.fetches[0]).toMatchObject({ version: 13, topics: [{ topicId: ordersId }] });
    expect(broker.fetches[1]).toMatchObject({ version: 13, sessionId: 77, sessionEpoch: 1 });
  });

  it('names it by name below v13, and while its id is unknown; a new session once the id is known', async () => {
    const older = new IdBroker(12);
    older.ids.set('orders', ordersId);
    expect((await consume(older, (records) => records.length >= 2)).slice(0, 2)).toEqual([
      'orders:0:0',
      'orders:0:1',
    ]);
    expect(older.fetches[0]).toMatchObject({ version: 12, topics: [{ topic: 'orders', topicId: zeroUuid }] });
    await consumer!.disconnect();

    const broker = new IdBroker(13);
    await consume(broker, (records) => records.length >= 2);
    expect(broker.fetches[0]).toMatchObject({
      version: 12,
      topics: [{ topic: 'orders', topicId: zeroUuid }],
    });
    const byName = broker.fetches.length;
    broker.ids.set('orders', ordersId);
    await waitFor('a fetch by id', () => broker.fetches.some((fetch) => fetch.version === 13), {
      timeoutMs: 5_000,
    });
    const first = broker.fetches.find((fetch) => fetch.version === 13)!;
    // A full fetch that opens a new session, from where the fetches by name had got to.
    expect(first).toMatchObject({ sessionId: 0, sessionEpoch: 0, topics: [{ topicId: ordersId }] });
    expect(first.topics[0]!.partitions[0]!.fetchOffset).toBe(BigInt(2 * byName));
  });
});

import { ApiKey, ErrorCode } from '@gregor/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type ProducerIdBlockResult,
  type ProducerIdBlockSource,
  ProducerIdManager,
} from '../producer-ids/producer-id-manager.js';
import { LocalClusterFixture } from '../testing/local-cluster-fixture.js';
import { ProducerIdClient } from '../testing/producer-id-client.js';

let cluster: LocalClusterFixture;
let client: ProducerIdClient;

beforeEach(async () => {
  cluster = await LocalClusterFixture.start();
  client = new ProducerIdClient(cluster);
});
afterEach(async () => {
  await cluster.close();
});

describe('InitProducerId', () => {
  it('is advertised in versions 0-5 only by a router that has its handler', async () => {
    const withHandler = await client.request(ApiKey.ApiVersions, 3, {
      clientSoftwareName: 't',
      clientSoftwareVersion: '1',
    });
    expect(withHandler.apiKeys.find((api) => api.apiKey === ApiKey.InitProducerId)).toMatchObject({
      minVersion: 0,
      maxVersion: 5,
    });
    const without = await cluster.request(ApiKey.ApiVersions, 3, {
      clientSoftwareName: 't',
      clientSoftwareVersion: '1',
    });
    expect(without.apiKeys.some((api) => api.apiKey === ApiKey.InitProducerId)).toBe(false);
  });

  it('gives every call a new producer id with epoch 0, in every version, v3 with a previous id included', async () => {
    const ids: bigint[] = [];
    for (const version of [0, 1, 2, 3, 4, 5]) {
      const response = await client.initProducerId(version);
      expect(response).toMatchObject({ errorCode: ErrorCode.NONE, producerEpoch: 0, throttleTimeMs: 0 });
      ids.push(response.producerId);
    }
    const bumped = await client.initProducerId(3, null, ids[3]!, 0);
    expect(bumped).toMatchObject({ errorCode: ErrorCode.NONE, producerEpoch: 0 });
    ids.push(bumped.producerId);
    expect(new Set(ids).size).toBe(ids.length);
    // The ids come from a block the controller recorded in the metadata log.
    expect(cluster.image().producerIds?.nextProducerId).toBeGreaterThan(Number(ids.at(-1)));
  });

  it('refuses a transactional id: Gregor has no transaction coordinator', async () => {
    expect(await client.initProducerId(1, 'my-transactions')).toMatchObject({
      errorCode: ErrorCode.INVALID_TXN_STATE,
      producerId: -1n,
      producerEpoch: -1,
    });
  });
});

describe('ProducerIdManager', () => {
  class CountingSource implements ProducerIdBlockSource {
    calls = 0;
    next = 100;
    failing = false;
    async allocateBlock(): Promise<ProducerIdBlockResult> {
      this.calls++;
      if (this.failing)
        return { ok: false, errorCode: ErrorCode.REQUEST_TIMED_OUT, message: 'no controller' };
      const block = { firstProducerId: this.next, producerIdCount: 10 };
      this.next += 20;
      return { ok: true, block };
    }
  }

  it('fetches the next block before the current one runs out, one fetch at a time, and never repeats an id', async () => {
    const source = new CountingSource();
    const manager = new ProducerIdManager(source);
    const concurrent = await Promise.all(Array.from({ length: 25 }, () => manager.nextProducerId()));
    const ids = concurrent.map((result) => (result.ok ? result.producerId : -1));
    expect(new Set(ids).size).toBe(25);
    expect(ids.every((id) => id >= 100)).toBe(true);
    expect(source.calls).toBeLessThanOrEqual(4);
  });

  it('answers COORDINATOR_LOAD_IN_PROGRESS (retriable) while no block can be had', async () => {
    const source = new CountingSource();
    source.failing = true;
    const manager = new ProducerIdManager(source);
    expect(await manager.nextProducerId()).toMatchObject({
      ok: false,
      errorCode: ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
    });
    source.failing = false;
    expect(await manager.nextProducerId()).toEqual({ ok: true, producerId: 100 });
  });
});

import { readdirSync, readFileSync } from 'node:fs';
import {
  ApiKey,
  type ApiName,
  decodeRequest,
  decodeResponse,
  ErrorCode,
  supportedApiVersions,
} from '@gregor/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { rawRequestFrame } from './testing/batches.js';
import { decodeOutcome, fixtureListenerName, LocalClusterFixture } from './testing/local-cluster-fixture.js';

let cluster: LocalClusterFixture;
beforeEach(async () => {
  cluster = await LocalClusterFixture.start();
});
afterEach(async () => {
  await cluster.close();
});

const servedApis = [
  ApiKey.Produce,
  ApiKey.Fetch,
  ApiKey.ListOffsets,
  ApiKey.Metadata,
  ApiKey.ApiVersions,
  ApiKey.CreateTopics,
  ApiKey.DeleteTopics,
  ApiKey.DeleteRecords,
  ApiKey.OffsetForLeaderEpoch,
  ApiKey.DescribeAcls,
  ApiKey.CreateAcls,
  ApiKey.DeleteAcls,
  ApiKey.DescribeConfigs,
  ApiKey.AlterConfigs,
  ApiKey.AlterReplicaLogDirs,
  ApiKey.DescribeLogDirs,
  ApiKey.CreatePartitions,
  ApiKey.CreateDelegationToken,
  ApiKey.RenewDelegationToken,
  ApiKey.ExpireDelegationToken,
  ApiKey.DescribeDelegationToken,
  ApiKey.ElectLeaders,
  ApiKey.IncrementalAlterConfigs,
  ApiKey.AlterPartitionReassignments,
  ApiKey.ListPartitionReassignments,
  ApiKey.DescribeClientQuotas,
  ApiKey.AlterClientQuotas,
  ApiKey.DescribeUserScramCredentials,
  ApiKey.AlterUserScramCredentials,
  ApiKey.UpdateFeatures,
  ApiKey.DescribeCluster,
  ApiKey.DescribeProducers,
  ApiKey.UnregisterBroker,
  ApiKey.ListConfigResources,
  ApiKey.DescribeTopicPartitions,
];

const withoutV0: readonly number[] = [
  ApiKey.AlterReplicaLogDirs,
  ApiKey.CreateDelegationToken,
  ApiKey.RenewDelegationToken,
  ApiKey.ExpireDelegationToken,
  ApiKey.DescribeDelegationToken,
];

describe('ApiVersions', () => {
  it.each([0, 1, 2, 3, 4])(
    'v%i advertises exactly the served APIs with minimum version 0 (1 where Kafka 4 removed v0)',
    async (version) => {
      const body =
        version >= 3
          ? { clientSoftwareName: 'test', clientSoftwareVersion: '1.0' }
          : ({} as Record<string, never>);
      const response = await cluster.request(ApiKey.ApiVersions, version, body);
      expect(response.errorCode).toBe(ErrorCode.NONE);
      expect(response.apiKeys.map((api) => api.apiKey)).toEqual(servedApis);
      for (const api of response.apiKeys) {
        const supported = supportedApiVersions().find((entry) => entry.apiKey === api.apiKey)!;
        expect(api).toEqual({ ...supported });
        // Kafka 4.0 removed v0 of AlterReplicaLogDirs and the delegation token APIs (KIP-896);
        // every other minimum stays 0.
        expect(api.minVersion).toBe(withoutV0.includes(api.apiKey) ? 1 : 0);
      }
    },
  );

  it.each([3, 4])(
    'v%i answers INVALID_REQUEST, with no api keys, to a client software name or version Kafka refuses',
    async (version) => {
      for (const [name, softwareVersion] of [
        ['', '1.0'],
        ['my client', '1.0'],
        ['kafkajs', '1.0-'],
      ] as const) {
        const response = await cluster.request(ApiKey.ApiVersions, version, {
          clientSoftwareName: name,
          clientSoftwareVersion: softwareVersion,
        });
        expect(response).toMatchObject({ errorCode: ErrorCode.INVALID_REQUEST, apiKeys: [] });
      }
      const valid = await cluster.request(ApiKey.ApiVersions, version, {
        clientSoftwareName: 'confluent-kafka-python',
        clientSoftwareVersion: '2.15.1-librdkafka.2.15.1',
      });
      expect(valid.errorCode).toBe(ErrorCode.NONE);
    },
  );

  it('answers an unknown ApiVersions version with error 35 in the v0 layout', async () => {
    const outcome = await cluster.sendFrame(rawRequestFrame(ApiKey.ApiVersions, 99, 7));
    expect(outcome.kind).toBe('respond');
    const response = decodeOutcome(ApiKey.ApiVersions, 0, outcome);
    expect(response.errorCode).toBe(ErrorCode.UNSUPPORTED_VERSION);
    expect(response.apiKeys.map((api) => api.apiKey)).toEqual(servedApis);
    if (outcome.kind === 'respond') expect(outcome.response.readInt32BE(0)).toBe(7);
  });
});

describe('refused frames', () => {
  it('closes the connection on an unknown api key and logs why', async () => {
    const outcome = await cluster.sendFrame(rawRequestFrame(1000, 0, 1));
    expect(outcome).toEqual({ kind: 'close', reason: expect.stringContaining('unknown-api-key') });
    expect(
      cluster.logLines.some(
        (line) => line.includes('closing client connection') && line.includes('unknown api key 1000'),
      ),
    ).toBe(true);
  });

  it('closes the connection on an unsupported version of another API', async () => {
    const outcome = await cluster.sendFrame(rawRequestFrame(ApiKey.Metadata, 99, 1));
    expect(outcome).toEqual({ kind: 'close', reason: expect.stringContaining('unsupported-version') });
  });

  it('closes the connection on a malformed body', async () => {
    // Metadata v1: an int32 topic count of 5 and nothing after it.
    const count = Buffer.alloc(4);
    count.writeInt32BE(5, 0);
    const outcome = await cluster.sendFrame(rawRequestFrame(ApiKey.Metadata, 1, 1, count));
    expect(outcome).toEqual({ kind: 'close', reason: expect.stringContaining('malformed') });
  });

  it('refuses a frame that does not decode at once, before the connection reads the next', async () => {
    // A plain outcome, not a promise: the connection reads no further frame (see FrameHandler), so
    // a Produce sent behind a malformed request is never written unanswered.
    const connection = { connectionId: 1, remoteAddress: '127.0.0.1', listenerName: fixtureListenerName };
    const count = Buffer.alloc(4);
    count.writeInt32BE(5, 0);
    const refused = cluster.router(rawRequestFrame(ApiKey.Metadata, 1, 1, count), connection);
    expect(refused).not.toBeInstanceOf(Promise);
    expect(refused).toEqual({ kind: 'close', reason: expect.stringContaining('malformed') });
    expect(cluster.router(rawRequestFrame(1000, 0, 2), connection)).toMatchObject({ kind: 'close' });
    const served = cluster.router(rawRequestFrame(ApiKey.ApiVersions, 0, 3), connection);
    expect(served).toBeInstanceOf(Promise);
    expect(await served).toMatchObject({ kind: 'respond' });
  });

  it('closes the connection on a frame shorter than a header', async () => {
    const outcome = await cluster.sendFrame(Buffer.from([0, 3]));
    expect(outcome).toEqual({ kind: 'close', reason: expect.stringContaining('truncated-header') });
  });

  it('closes on an API that has a codec but no handler here', async () => {
    const outcome = await cluster.send(ApiKey.Heartbeat, 0, { groupId: 'g', generationId: 1, memberId: 'm' });
    expect(outcome).toEqual({ kind: 'close', reason: expect.stringContaining('not served') });
  });

  it('keeps the correlation id of each answered request', async () => {
    const outcome = await cluster.sendFrame(rawRequestFrame(ApiKey.ApiVersions, 0, 4242));
    expect(outcome.kind).toBe('respond');
    if (outcome.kind !== 'respond') return;
    const decoded = decodeResponse(ApiKey.ApiVersions, 0, outcome.response);
    expect(decoded.ok && decoded.correlationId).toBe(4242);
  });
});

describe('bytes after the last field of a request', () => {
  // Kafka reads the fields a request's version defines and ignores what follows them; librdkafka
  // 2.15 depends on it (its all-topics Metadata v9 leaves a byte, see the protocol's captured.test).
  const allTopicsV9 = Buffer.from(
    readFileSync(
      new URL('../../protocol/test-fixtures/librdkafka-2.15-Metadata-v9-all-topics.hex', import.meta.url),
      'utf8',
    ).trim(),
    'hex',
  );

  it("answers librdkafka 2.15's all-topics Metadata v9 with every topic", async () => {
    for (const name of ['alpha', 'beta']) {
      const created = await cluster.request(ApiKey.CreateTopics, 4, {
        topics: [{ name, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }],
        timeoutMs: 1000,
        validateOnly: false,
      });
      expect(created.topics[0]!.errorCode).toBe(ErrorCode.NONE);
    }
    const outcome = await cluster.sendFrame(allTopicsV9);
    expect(outcome.kind).toBe('respond');
    const response = decodeOutcome(ApiKey.Metadata, 9, outcome);
    expect(response.topics.map((topic) => topic.name).sort()).toEqual(['alpha', 'beta']);
    expect(response.brokers.map((broker) => broker.nodeId)).toEqual([1]);
    if (outcome.kind === 'respond') expect(outcome.response.readInt32BE(0)).toBe(allTopicsV9.readInt32BE(4));
  });

  it('answers any request with bytes after its fields, as if they were not there', async () => {
    // Metadata v1 asking for no topics, then 3 stray bytes.
    const outcome = await cluster.sendFrame(
      rawRequestFrame(ApiKey.Metadata, 1, 5, Buffer.from('00000000abcdef', 'hex')),
    );
    expect(decodeOutcome(ApiKey.Metadata, 1, outcome)).toMatchObject({ topics: [], controllerId: 1 });
  });

  it('still closes the connection on the same request cut short', async () => {
    // Without its last two bytes the tagged field's tag has no size: unreadable, as in Kafka.
    const outcome = await cluster.sendFrame(allTopicsV9.subarray(0, allTopicsV9.length - 2));
    expect(outcome).toEqual({ kind: 'close', reason: expect.stringContaining('malformed') });
  });
});

// Request frames captured from kcat (librdkafka 2.0.2), kafkajs 2.2.4, kafka-python 2.0.2 and
// librdkafka 2.15 (kcat, confluent-kafka-python) by the protocol package: every one of a served API
// gets an answer, never a closed connection.
const capturesDir = new URL('../../protocol/test-fixtures/', import.meta.url);
const servedCaptures = readdirSync(capturesDir)
  .filter((name) => name.endsWith('.hex'))
  .map((name) => {
    const [, apiName, version] = /-([A-Z][A-Za-z]+)-v(\d+)(?:-[a-z-]+)?\.hex$/.exec(name)!;
    return { name, apiKey: ApiKey[apiName as ApiName], apiVersion: Number(version) };
  })
  .filter((capture) => servedApis.includes(capture.apiKey as (typeof servedApis)[number]));

describe('captured client requests', () => {
  it('covers the four clients', () => {
    expect(servedCaptures.length).toBeGreaterThan(30);
  });

  it.each(servedCaptures)(
    '$name is answered with its correlation id',
    async ({ name, apiKey, apiVersion }) => {
      const frame = Buffer.from(readFileSync(new URL(name, capturesDir), 'utf8').trim(), 'hex');
      if (apiKey === ApiKey.Produce) {
        // Only acks=0 goes unanswered; every captured Produce asks for acks=all.
        const request = decodeRequest(frame);
        expect(request.ok && request.apiKey === ApiKey.Produce && request.body.acks).toBe(-1);
      }
      const outcome = await cluster.sendFrame(frame);
      expect(outcome.kind).toBe('respond');
      if (outcome.kind !== 'respond') return;
      const decoded = decodeResponse(apiKey as typeof ApiKey.Metadata, apiVersion, outcome.response);
      expect(decoded.ok).toBe(true);
      expect(decoded.correlationId).toBe(frame.readInt32BE(4));
    },
  );
});

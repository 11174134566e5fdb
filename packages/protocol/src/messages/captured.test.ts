// Request frames captured from real clients (kcat/librdkafka 2.0, kafkajs 2.2.4, kafka-python
// 2.0.2) by scripts/capture-client-frames.mjs: each must decode, carry the values the capture run
// used, and re-encode to the identical bytes.

import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ApiKey } from './api-keys.js';
import { type DecodedRequest, decodeRequest, encodeRequest } from './frames.js';

const fixturesDir = new URL('../../test-fixtures/', import.meta.url);
const fixtures = readdirSync(fixturesDir)
  .filter((name) => name.endsWith('.hex'))
  .sort()
  .map((name) => ({
    name,
    frame: Buffer.from(readFileSync(new URL(name, fixturesDir), 'utf8').trim(), 'hex'),
  }));

const captureTopic = 't';
const captureClientId = 'gregor-capture';
const captureGroup = 'g';

/** What the capture run asked each client to do, checked per api. */
function expectCaptureValues(request: DecodedRequest): void {
  switch (request.apiKey) {
    case ApiKey.ApiVersions:
      if (request.apiVersion >= 3) expect(request.body.clientSoftwareName).not.toBe('');
      return;
    case ApiKey.Metadata:
      if (request.body.topics !== null && request.body.topics.length > 0) {
        expect(request.body.topics.map((topic) => topic.name)).toContain(captureTopic);
      }
      return;
    case ApiKey.Produce: {
      expect(request.body.acks).toBe(-1);
      const partition = request.body.topics[0]?.partitions[0];
      expect(request.body.topics[0]?.name).toBe(captureTopic);
      // A record batch v2: magic byte at offset 16.
      expect(partition?.records?.[16]).toBe(2);
      return;
    }
    case ApiKey.Fetch:
      expect(request.body.replicaId).toBe(-1);
      expect(request.body.topics[0]?.topic).toBe(captureTopic);
      expect(request.body.topics[0]?.partitions[0]?.partition).toBe(0);
      return;
    case ApiKey.ListOffsets:
      expect(request.body.replicaId).toBe(-1);
      expect(request.body.topics[0]?.name).toBe(captureTopic);
      return;
    case ApiKey.CreateTopics:
      expect(request.body.topics[0]).toMatchObject({ name: captureTopic, numPartitions: 1 });
      return;
    case ApiKey.DeleteTopics:
      expect(request.body.topicNames).toEqual([captureTopic]);
      return;
    case ApiKey.CreatePartitions:
      expect(request.body.topics[0]).toMatchObject({ name: captureTopic, count: 2 });
      return;
    case ApiKey.DescribeConfigs:
      expect(request.body.resources[0]).toMatchObject({ resourceType: 2, resourceName: captureTopic });
      return;
    case ApiKey.FindCoordinator:
      if (request.apiVersion >= 4) expect(request.body.coordinatorKeys).toContain(captureGroup);
      else expect(request.body.key).toBe(captureGroup);
      return;
    case ApiKey.JoinGroup:
      expect(request.body).toMatchObject({ groupId: captureGroup, protocolType: 'consumer' });
      expect(request.body.protocols.length).toBeGreaterThan(0);
      return;
    case ApiKey.SyncGroup:
    case ApiKey.Heartbeat:
    case ApiKey.OffsetCommit:
      expect(request.body.groupId).toBe(captureGroup);
      return;
    case ApiKey.LeaveGroup:
      expect(request.body.groupId).toBe(captureGroup);
      if (request.apiVersion >= 3) expect(request.body.members.length).toBe(1);
      else expect(request.body.memberId).not.toBe('');
      return;
    case ApiKey.OffsetFetch:
      expect(request.apiVersion >= 8 ? request.body.groups[0]?.groupId : request.body.groupId).toBe(
        captureGroup,
      );
      return;
    case ApiKey.DescribeGroups:
    case ApiKey.DeleteGroups:
      expect(
        request.apiKey === ApiKey.DescribeGroups ? request.body.groups : request.body.groupsNames,
      ).toEqual([captureGroup]);
      return;
    case ApiKey.InitProducerId:
      expect(request.body.transactionalId).toBeNull();
      return;
  }
}

describe('frames captured from real clients', () => {
  it('has fixtures from every client', () => {
    const clients = new Set(fixtures.map(({ name }) => name.replace(/-[A-Za-z]+-v\d+\.hex$/, '')));
    expect([...clients].sort()).toEqual(['kafka-python', 'kafkajs', 'kcat']);
  });

  it.each(fixtures)('$name decodes and re-encodes byte for byte', ({ name, frame }) => {
    const request = decodeRequest(frame);
    if (!request.ok) throw new Error(`${name}: ${request.reason}: ${request.message}`);
    const [, apiName, version] = /-([A-Za-z]+)-v(\d+)\.hex$/.exec(name) ?? [];
    expect(request.apiVersion).toBe(Number(version));
    expect(Object.entries(ApiKey).find(([, key]) => key === request.apiKey)?.[0]).toBe(apiName);
    expect(request.header.clientId).toBe(captureClientId);
    expectCaptureValues(request);

    const reencoded = encodeRequest(
      request.apiKey,
      request.apiVersion,
      request.header.correlationId,
      request.header.clientId,
      request.body as never,
    );
    expect(reencoded.toString('hex')).toBe(frame.toString('hex'));
  });
});

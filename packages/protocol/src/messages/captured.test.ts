// Request frames captured from real clients (kcat/librdkafka 2.0.2, kafkajs 2.2.4, kafka-python
// 2.0.2, and kcat and confluent-kafka-python on librdkafka 2.15.1) by
// scripts/capture-client-frames.mjs: each must decode, carry the values the capture run used, and
// re-encode to the identical bytes (up to the bytes a client left after the last field, which Kafka
// ignores and so do we).

import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ApiKey } from './api-keys.js';
import { type DecodedRequest, decodeRequest, encodeRequest } from './frames.js';
import { zeroUuid } from './schema.js';

const fixturesDir = new URL('../../test-fixtures/', import.meta.url);
/** `<client>-<Api>-v<version>[-<variant>].hex`; the variants are Metadata's topic selections. */
const fixtureName = /^(.+)-([A-Z][A-Za-z]+)-v(\d+)(?:-(all-topics|no-topics))?\.hex$/;
const fixtures = readdirSync(fixturesDir)
  .filter((name) => name.endsWith('.hex'))
  .sort()
  .map((name) => {
    const [, client, apiName, version, variant] = fixtureName.exec(name) ?? [];
    if (client === undefined)
      throw new Error(`${name} is not named <client>-<Api>-v<version>[-<variant>].hex`);
    return {
      name,
      client,
      apiName,
      version: Number(version),
      variant: variant ?? null,
      frame: Buffer.from(readFileSync(new URL(name, fixturesDir), 'utf8').trim(), 'hex'),
    };
  });

const captureTopic = 't';
const captureClientId = 'gregor-capture';
const captureGroup = 'g';
/** The capture broker's id for the topic (scripts/capture-client-frames.mjs captureTopicId). */
const captureTopicId = Buffer.from(captureTopic).toString('hex').padEnd(32, '0');

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
      expect(request.body.replicaState.replicaId).toBe(-1);
      // From v13 the topic travels by id only.
      if (request.apiVersion >= 13) expect(request.body.topics[0]?.topicId).toBe(captureTopicId);
      else expect(request.body.topics[0]?.topic).toBe(captureTopic);
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

/** The captures with bytes after their fields: librdkafka 2.15's all-topics Metadata (see below). */
const trailingBytesOf: Record<string, number> = {
  'librdkafka-2.15-Metadata-v9-all-topics.hex': 1,
  'librdkafka-2.15-Metadata-v13-all-topics.hex': 3,
};

describe('frames captured from real clients', () => {
  it('has fixtures from every client', () => {
    const clients = new Set(fixtures.map(({ client }) => client));
    expect([...clients].sort()).toEqual(['kafka-python', 'kafkajs', 'kcat', 'librdkafka-2.15']);
  });

  it.each(fixtures)(
    '$name decodes and re-encodes byte for byte',
    ({ name, apiName, version, variant, frame }) => {
      const request = decodeRequest(frame);
      if (!request.ok) throw new Error(`${name}: ${request.reason}: ${request.message}`);
      expect(request.apiVersion).toBe(version);
      expect(Object.entries(ApiKey).find(([, key]) => key === request.apiKey)?.[0]).toBe(apiName);
      expect(request.header.clientId).toBe(captureClientId);
      expectCaptureValues(request);
      if (request.apiKey === ApiKey.Metadata) {
        const { topics } = request.body;
        const selection = topics === null || (version === 0 && topics.length === 0) ? 'all-topics' : topics;
        if (variant === 'all-topics') expect(selection).toBe('all-topics');
        else if (variant === 'no-topics') expect(selection).toEqual([]);
        else expect(selection).toEqual([{ topicId: zeroUuid, name: captureTopic }]);
      }
      // Only librdkafka 2.15's all-topics Metadata leaves bytes after its fields (see below).
      expect(request.trailingBytes).toBe(trailingBytesOf[name] ?? 0);

      const reencoded = encodeRequest(
        request.apiKey,
        request.apiVersion,
        request.header.correlationId,
        request.header.clientId,
        request.body as never,
      );
      expect(reencoded.toString('hex')).toBe(
        frame.subarray(0, frame.length - request.trailingBytes).toString('hex'),
      );
    },
  );

  it("reads librdkafka 2.15's all-topics Metadata v9 as Kafka does", () => {
    // librdkafka reserves a 4-byte array count and, for all topics in v9+, never rewrites it as the
    // compact varint: 00000000 | 01 (allow auto-creation) 00 00 (authorized operations) | 00 (tags).
    // Kafka's generated reader takes the first 00 as a null (all topics) compact array, the next
    // three as the three booleans, 01 as one tagged field, 00 00 as tag 0 of size 0, and leaves the
    // last byte unread. That is the request Kafka answers; so do we.
    const fixture = fixtures.find(({ name }) => name === 'librdkafka-2.15-Metadata-v9-all-topics.hex')!;
    const body = fixture.frame.subarray(8 + 2 + captureClientId.length + 1);
    expect(body.toString('hex')).toBe('0000000001000000');
    const request = decodeRequest(fixture.frame);
    expect(request).toMatchObject({ ok: true, apiKey: ApiKey.Metadata, apiVersion: 9, trailingBytes: 1 });
    if (!request.ok || request.apiKey !== ApiKey.Metadata) return;
    expect(request.body).toMatchObject({
      topics: null,
      allowAutoTopicCreation: false,
      includeClusterAuthorizedOperations: false,
      includeTopicAuthorizedOperations: false,
    });
    expect(request.body.unknownTaggedFields).toEqual(new Map([[0, Buffer.alloc(0)]]));
    // One byte short is still refused: the tagged field's size is missing.
    expect(decodeRequest(fixture.frame.subarray(0, fixture.frame.length - 2))).toMatchObject({
      ok: false,
      reason: 'malformed',
    });
  });
});

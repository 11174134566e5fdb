// Layout checks against hand-assembled bytes (flexible vs non-flexible), tagged fields, nullability,
// version presence rules and typed failures for malformed frames.

import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../errors.js';
import { Reader } from '../reader.js';
import { ApiKey, headerVersionTable, requestHeaderVersion, responseHeaderVersion } from './api-keys.js';
import { apiVersionsApi } from './apis/api-versions.js';
import { describeTopicPartitionsApi } from './apis/describe-topic-partitions.js';
import { fetchApi } from './apis/fetch.js';
import { metadataApi } from './apis/metadata.js';
import { decodeMessage, EncodeError, encodeMessage } from './codec.js';
import {
  decodeRequest,
  decodeResponse,
  encodeApiVersionsUnsupportedResponse,
  encodeRequest,
  encodeResponse,
} from './frames.js';
import { supportedApiVersions } from './registry.js';
import { parseVersions } from './schema.js';

const hex = (text: string) => Buffer.from(text.replace(/\s+/g, ''), 'hex');

describe('version ranges', () => {
  it('parses Kafka version syntax', () => {
    expect(parseVersions('0+')).toEqual({ min: 0, max: Number.POSITIVE_INFINITY });
    expect(parseVersions('3-5')).toEqual({ min: 3, max: 5 });
    expect(parseVersions('7')).toEqual({ min: 7, max: 7 });
    expect(parseVersions('none').min).toBeGreaterThan(parseVersions('none').max);
    expect(() => parseVersions('1.5')).toThrow();
  });
});

describe('header versions', () => {
  it('uses request header v2 and response header v1 exactly for flexible versions', () => {
    expect(requestHeaderVersion(ApiKey.Metadata, 8)).toBe(1);
    expect(requestHeaderVersion(ApiKey.Metadata, 9)).toBe(2);
    expect(responseHeaderVersion(ApiKey.Metadata, 8)).toBe(0);
    expect(responseHeaderVersion(ApiKey.Metadata, 9)).toBe(1);
    expect(requestHeaderVersion(ApiKey.Produce, 8)).toBe(1);
    expect(responseHeaderVersion(ApiKey.Fetch, 12)).toBe(1);
  });

  it('answers ApiVersions with response header v0 even in flexible versions', () => {
    expect(requestHeaderVersion(ApiKey.ApiVersions, 3)).toBe(2);
    expect(responseHeaderVersion(ApiKey.ApiVersions, 3)).toBe(0);
  });

  it('tabulates every supported version', () => {
    const table = headerVersionTable();
    expect(table.get('Fetch')).toHaveLength(19);
    expect(table.get('CreateTopics')?.map((row) => row.requestHeaderVersion)).toEqual([
      1, 1, 1, 1, 1, 2, 2, 2,
    ]);
  });
});

describe('non-flexible vs flexible layout', () => {
  it('encodes Metadata v0 with int16 strings and int32 array counts', () => {
    const frame = encodeRequest(ApiKey.Metadata, 0, 1, 'c', { topics: [{ name: 'a' }] });
    expect(frame).toEqual(hex('0003 0000 00000001 0001 63  00000001 0001 61'));
  });

  it('encodes Metadata v9 with compact strings, compact arrays and tag buffers', () => {
    const frame = encodeRequest(ApiKey.Metadata, 9, 1, 'c', {
      topics: [{ name: 'a' }],
      allowAutoTopicCreation: true,
      includeClusterAuthorizedOperations: false,
      includeTopicAuthorizedOperations: true,
    });
    // header v2: client id keeps its int16 length, then an empty tag buffer
    expect(frame).toEqual(hex('0003 0009 00000001 0001 63 00   02 02 61 00  01 00 01 00'));
  });

  it('encodes an ApiVersions v3 response with header v0 and a flexible body', () => {
    const frame = encodeResponse(ApiKey.ApiVersions, 3, 5, {
      errorCode: 0,
      apiKeys: [{ apiKey: 18, minVersion: 0, maxVersion: 3 }],
      throttleTimeMs: 0,
    });
    expect(frame).toEqual(hex('00000005  0000 02 0012 0000 0003 00 00000000 00'));
  });

  it('encodes Heartbeat v3 and flexible v4 with a null group instance id', () => {
    const body = { groupId: 'g', generationId: 1, memberId: 'm', groupInstanceId: null };
    expect(encodeRequest(ApiKey.Heartbeat, 3, 2, null, body)).toEqual(
      hex('000c 0003 00000002 ffff  0001 67 00000001 0001 6d ffff'),
    );
    expect(encodeRequest(ApiKey.Heartbeat, 4, 2, null, body)).toEqual(
      hex('000c 0004 00000002 ffff 00  02 67 00000001 02 6d 00 00'),
    );
  });

  it('switches FindCoordinator from one key (v3) to batched keys (v4)', () => {
    expect(encodeRequest(ApiKey.FindCoordinator, 3, 1, 'c', { key: 'g', keyType: 0 })).toEqual(
      hex('000a 0003 00000001 0001 63 00  02 67 00 00'),
    );
    expect(encodeRequest(ApiKey.FindCoordinator, 4, 1, 'c', { key: '', coordinatorKeys: ['g'] })).toEqual(
      hex('000a 0004 00000001 0001 63 00  00 02 02 67 00'),
    );
    expect(() => encodeRequest(ApiKey.FindCoordinator, 4, 1, 'c', { key: 'g' })).toThrow(EncodeError);
  });

  it('writes a size prefix in place when asked', () => {
    const frame = encodeRequest(ApiKey.Metadata, 0, 1, 'c', { topics: [] }, { sizePrefix: true });
    expect(frame).toEqual(hex('0000000f 0003 0000 00000001 0001 63 00000000'));
  });
});

describe('tagged fields', () => {
  const schema = apiVersionsApi.response;

  it('writes tagged fields only when they differ from the default, in tag order', () => {
    const bytes = encodeMessage(schema, 3, {
      errorCode: 0,
      apiKeys: [],
      zkMigrationReady: true,
      finalizedFeaturesEpoch: 7n,
    }).toBuffer();
    // error, empty compact array, throttle, 2 tags: (1, 8 bytes, epoch 7), (3, 1 byte, true)
    expect(bytes).toEqual(hex('0000 01 00000000 02 01 08 0000000000000007 03 01 01'));
  });

  it('skips unknown tags on decode, keeps them, and re-encodes them byte for byte', () => {
    const bytes = hex('0000 01 00000000 02 01 08 0000000000000009 07 02 abcd');
    const decoded = decodeMessage(schema, 3, new Reader(bytes));
    expect(decoded.finalizedFeaturesEpoch).toBe(9n);
    expect(decoded.zkMigrationReady).toBe(false);
    expect(decoded.unknownTaggedFields).toEqual(new Map([[7, hex('abcd')]]));
    expect(encodeMessage(schema, 3, decoded).toBuffer()).toEqual(bytes);
  });

  it('decodes tagged struct fields (Fetch v12 current leader)', () => {
    const message = {
      throttleTimeMs: 0,
      errorCode: 0,
      sessionId: 0,
      responses: [
        {
          topic: 't',
          partitions: [
            {
              partitionIndex: 0,
              errorCode: 6,
              highWatermark: 10n,
              currentLeader: { leaderId: 2, leaderEpoch: 5 },
              abortedTransactions: null,
              records: null,
            },
          ],
        },
      ],
    };
    const bytes = encodeMessage(fetchApi.response, 12, message).toBuffer();
    const decoded = decodeMessage(fetchApi.response, 12, new Reader(bytes));
    const partition = decoded.responses[0]!.partitions[0]!;
    expect(partition.currentLeader).toEqual({ leaderId: 2, leaderEpoch: 5 });
    expect(partition.divergingEpoch).toEqual({ epoch: -1, endOffset: -1n });
    expect(partition.lastStableOffset).toBe(-1n);
  });

  it('rejects a known tagged field with trailing bytes', () => {
    const bytes = hex('0000 01 00000000 01 03 02 0101');
    expect(() => decodeMessage(schema, 3, new Reader(bytes))).toThrow(/trailing/);
  });
});

describe('nullable fields', () => {
  it('encodes a null topic list as -1 in v1 and as 0 in flexible v9', () => {
    expect(encodeMessage(metadataApi.request, 1, { topics: null }).toBuffer()).toEqual(hex('ffffffff'));
    const v9 = encodeMessage(metadataApi.request, 9, { topics: null }).toBuffer();
    expect(v9[0]).toBe(0);
    expect(decodeMessage(metadataApi.request, 9, new Reader(v9)).topics).toBeNull();
  });

  it('writes a nullable struct behind a marker byte: -1 for null, 1 before the struct (DescribeTopicPartitions cursor)', () => {
    const schema = describeTopicPartitionsApi.request;
    // topics: compact array of 1 ("a", no tags); response_partition_limit 2000; cursor; request tags.
    const withCursor = hex('02 02 61 00  000007d0  01 02 61 00000003 00  00');
    const nullCursor = hex('02 02 61 00  000007d0  ff  00');
    const topics = [{ name: 'a' }];
    expect(
      encodeMessage(schema, 0, {
        topics,
        responsePartitionLimit: 2000,
        cursor: { topicName: 'a', partitionIndex: 3 },
      }).toBuffer(),
    ).toEqual(withCursor);
    expect(encodeMessage(schema, 0, { topics }).toBuffer()).toEqual(nullCursor);
    expect(decodeMessage(schema, 0, new Reader(withCursor)).cursor).toEqual({
      topicName: 'a',
      partitionIndex: 3,
    });
    expect(decodeMessage(schema, 0, new Reader(nullCursor)).cursor).toBeNull();
  });

  it('refuses null where the version does not allow it', () => {
    expect(() => encodeMessage(metadataApi.request, 0, { topics: null })).toThrow(EncodeError);
    expect(() => decodeMessage(metadataApi.request, 0, new Reader(hex('ffffffff')))).toThrow(/not nullable/);
  });
});

describe('fields absent in a version', () => {
  it('decodes them as their defaults', () => {
    const decoded = decodeMessage(metadataApi.request, 3, new Reader(hex('00000000')));
    expect(decoded).toEqual({
      topics: [],
      allowAutoTopicCreation: true,
      includeClusterAuthorizedOperations: false,
      includeTopicAuthorizedOperations: false,
    });
  });

  it('refuses a non-default value in a version without a non-ignorable field', () => {
    expect(() =>
      encodeMessage(metadataApi.request, 3, { topics: [], allowAutoTopicCreation: false }),
    ).toThrow(/allowAutoTopicCreation is not in version 3/);
  });

  it('drops an ignorable field silently', () => {
    const bytes = encodeMessage(metadataApi.response, 0, { brokers: [], topics: [], clusterId: 'gregor' });
    expect(bytes.toBuffer()).toEqual(hex('00000000 00000000'));
  });
});

describe('decodeRequest failures are values', () => {
  const valid = encodeRequest(ApiKey.Fetch, 12, 99, 'client', {
    replicaId: -1,
    maxWaitMs: 500,
    minBytes: 1,
    topics: [{ topic: 'orders', partitions: [{ partition: 0, fetchOffset: 5n, partitionMaxBytes: 1024 }] }],
    forgottenTopicsData: [],
    clusterId: 'abc',
  });

  it('decodes the valid frame', () => {
    const result = decodeRequest(valid);
    expect(result.ok).toBe(true);
    if (result.ok && result.apiKey === ApiKey.Fetch) {
      expect(result.body.clusterId).toBe('abc');
      expect(result.body.topics[0]?.partitions[0]?.fetchOffset).toBe(5n);
    }
  });

  it('reports every truncation as malformed or truncated-header, never throwing', () => {
    for (let length = 0; length < valid.length; length++) {
      const result = decodeRequest(valid.subarray(0, length));
      expect(result.ok, `length ${length}`).toBe(false);
      if (!result.ok) {
        expect(result.reason).toBe(length < 8 ? 'truncated-header' : 'malformed');
        if (length >= 8) expect(result.correlationId).toBe(99);
      }
    }
  });

  it('decodes a request with bytes after its last field and counts them, as Kafka ignores them', () => {
    const result = decodeRequest(Buffer.concat([valid, hex('00ff00')]));
    expect(result).toMatchObject({ ok: true, apiKey: ApiKey.Fetch, apiVersion: 12, trailingBytes: 3 });
    const exact = decodeRequest(valid);
    expect(exact).toMatchObject({ ok: true, trailingBytes: 0 });
    if (result.ok && exact.ok) expect(result.body).toEqual(exact.body);
  });

  it('reports unknown api keys and unsupported versions with the correlation id', () => {
    expect(decodeRequest(hex('03e7 0000 0000002a 0000'))).toMatchObject({
      ok: false,
      reason: 'unknown-api-key',
      apiKey: 999,
      correlationId: 42,
    });
    expect(decodeRequest(hex('0003 0063 0000002a 0000'))).toMatchObject({
      ok: false,
      reason: 'unsupported-version',
      apiKey: 3,
      apiVersion: 99,
      correlationId: 42,
    });
  });

  it('rejects forged array counts without allocating them', () => {
    const forged = hex('0003 0001 00000001 0000 7fffffff');
    expect(decodeRequest(forged)).toMatchObject({ ok: false, reason: 'malformed' });
  });

  it('rejects null in a non-nullable string', () => {
    const nullTopicName = hex('0003 0001 00000001 0000 00000001 ffff');
    expect(decodeRequest(nullTopicName)).toMatchObject({ ok: false, reason: 'malformed' });
  });

  it('reports malformed responses as values too', () => {
    expect(decodeResponse(ApiKey.Metadata, 0, hex('00000001 0000'))).toMatchObject({
      ok: false,
      correlationId: 1,
    });
    expect(decodeResponse(ApiKey.Metadata, 0, hex('00'))).toMatchObject({ ok: false, correlationId: null });
  });
});

describe('ApiVersions for an unsupported version', () => {
  it('answers error 35 with the supported ranges in the v0 layout', () => {
    const request = hex('0012 0009 00000007 0000 00');
    const failure = decodeRequest(request);
    expect(failure).toMatchObject({ ok: false, reason: 'unsupported-version', apiKey: 18, correlationId: 7 });

    const frame = encodeApiVersionsUnsupportedResponse(7);
    const ranges = supportedApiVersions();
    expect(frame.readInt32BE(0)).toBe(7);
    expect(frame.readInt16BE(4)).toBe(ErrorCode.UNSUPPORTED_VERSION);
    expect(frame.readInt32BE(6)).toBe(ranges.length);
    expect(frame.length).toBe(4 + 2 + 4 + ranges.length * 6);
    const decoded = decodeResponse(ApiKey.ApiVersions, 0, frame);
    expect(decoded.ok && decoded.body.apiKeys).toEqual(ranges);
    expect(ranges.find((range) => range.apiKey === ApiKey.ApiVersions)).toEqual({
      apiKey: 18,
      minVersion: 0,
      maxVersion: 4,
    });
  });
});

import { readdirSync, readFileSync } from 'node:fs';
import { SeededRandom } from '@gregor/ground';
import {
  ApiKey,
  apiDefinition,
  decodeRequest,
  encodeRequest,
  randomMessage,
  type SupportedApiKey,
  supportedApiVersions,
} from '@gregor/protocol';
import { describe, expect, it } from 'vitest';
import {
  capRequestDemands,
  expectationOf,
  type FuzzCaseKind,
  FuzzFrameGenerator,
  fuzzRequestWaitMsMax,
  requestWaitFields,
  type ServedApi,
  stampCorrelationId,
} from './fuzz-frames.js';

const fixturesDir = new URL('../../../protocol/test-fixtures/', import.meta.url);
const capturedFrames = readdirSync(fixturesDir)
  .filter((name) => name.endsWith('.hex'))
  .sort()
  .map((name) => Buffer.from(readFileSync(new URL(name, fixturesDir), 'utf8').trim(), 'hex'));

/** A broker that serves every API with a codec but DeleteGroups, and Metadata only up to v5. */
const servedApis: ServedApi[] = supportedApiVersions()
  .filter((api) => api.apiKey !== ApiKey.DeleteGroups)
  .map((api) => (api.apiKey === ApiKey.Metadata ? { ...api, maxVersion: 5 } : api));
const frameMaxBytes = 1024 * 1024;

function generator(seed: number): FuzzFrameGenerator {
  return new FuzzFrameGenerator({
    seed,
    capturedFrames,
    servedApis,
    frameMaxBytes,
    messageMaxBytes: 100_000,
    oversizedBatchTopic: 'big',
  });
}

const joinGroup = (sessionTimeoutMs: number, rebalanceTimeoutMs: number) =>
  encodeRequest(ApiKey.JoinGroup, 5, 9, 'c', {
    groupId: 'g',
    sessionTimeoutMs,
    rebalanceTimeoutMs,
    memberId: '',
    groupInstanceId: null,
    protocolType: 'consumer',
    protocols: [],
  });

describe('expectationOf', () => {
  it('owes an answer to a well-formed request of a served API and version', () => {
    expect(expectationOf(joinGroup(50, 50), servedApis)).toEqual({
      kind: 'answer',
      apiKey: ApiKey.JoinGroup,
      responseVersion: 5,
    });
  });

  it('owes ApiVersions in a version nobody serves an answer in the v0 layout', () => {
    const frame = encodeRequest(ApiKey.ApiVersions, 0, 1, 'c', {});
    frame.writeInt16BE(99, 2);
    expect(expectationOf(frame, servedApis)).toEqual({
      kind: 'answer',
      apiKey: ApiKey.ApiVersions,
      responseVersion: 0,
    });
  });

  it('owes a close to malformed frames and to APIs or versions the broker does not serve', () => {
    const metadataV9 = encodeRequest(ApiKey.Metadata, 9, 1, 'c', {
      topics: null,
      allowAutoTopicCreation: false,
      includeClusterAuthorizedOperations: false,
      includeTopicAuthorizedOperations: false,
    });
    const deleteGroups = encodeRequest(ApiKey.DeleteGroups, 1, 1, 'c', { groupsNames: ['g'] });
    const truncated = joinGroup(50, 50).subarray(0, 20);
    for (const frame of [metadataV9, deleteGroups, Buffer.alloc(7), truncated])
      expect(expectationOf(frame, servedApis).kind).toBe('close');
  });

  it('owes an answer to a request with bytes after its last field, as Kafka reads it', () => {
    // Kafka parses a request's fields and ignores what follows them (librdkafka 2.15 leaves a
    // byte after an all-topics Metadata v9); only a request that ends before its last field is
    // malformed.
    for (const extra of [Buffer.from([0]), Buffer.from('trailing bytes')]) {
      const trailing = Buffer.concat([joinGroup(50, 50), extra]);
      expect(expectationOf(trailing, servedApis)).toEqual({
        kind: 'answer',
        apiKey: ApiKey.JoinGroup,
        responseVersion: 5,
      });
    }
    const complete = joinGroup(50, 50);
    for (let length = 8; length < complete.length; length++)
      expect(expectationOf(complete.subarray(0, length), servedApis).kind).toBe('close');
  });

  it('owes no answer to a Produce with acks=0', () => {
    const produce = encodeRequest(ApiKey.Produce, 7, 1, 'c', {
      transactionalId: null,
      acks: 0,
      timeoutMs: 10,
      topics: [],
    });
    expect(expectationOf(produce, servedApis)).toEqual({ kind: 'unanswered-produce' });
  });
});

describe('capRequestDemands', () => {
  it('caps the waits a request asks for and keeps its header', () => {
    const capped = decodeRequest(capRequestDemands(joinGroup(60_000, 300_000)));
    expect(capped.ok && capped.apiKey === ApiKey.JoinGroup && capped.body).toMatchObject({
      sessionTimeoutMs: fuzzRequestWaitMsMax,
      rebalanceTimeoutMs: fuzzRequestWaitMsMax,
    });
    expect(capped.ok && capped.header).toMatchObject({ correlationId: 9, clientId: 'c' });
  });

  it('caps every request field named as a wait (timeout or wait in ms) of every API and version', () => {
    // Found by name, so an API served later with a wait field is capped or fails here. A transaction
    // timeout is not a wait: the broker answers InitProducerId at once and aborts the transaction
    // later (bounded by transaction.max.timeout.ms).
    const notWaits = new Set(['transactionTimeoutMs']);
    const waitsFound: string[] = [];
    for (const { apiKey } of supportedApiVersions()) {
      const api = apiDefinition(apiKey as SupportedApiKey);
      for (let version = api.support.minVersion; version <= api.support.maxVersion; version++) {
        const body = randomMessage(api.request as never, version, new SeededRandom(version)) as Record<
          string,
          unknown
        >;
        const waits = Object.keys(body).filter(
          (field) =>
            /(Timeout|Wait)Ms$/i.test(field) && typeof body[field] === 'number' && !notWaits.has(field),
        );
        for (const field of waits) body[field] = 60_000;
        const frame = encodeRequest(apiKey as SupportedApiKey, version, 3, 'c', body as never);
        const sent = decodeRequest(frame);
        const capped = decodeRequest(capRequestDemands(frame));
        expect(sent.ok && capped.ok, `${api.name} v${version}`).toBe(true);
        const fieldsOf = (decoded: typeof sent) =>
          (decoded.ok ? decoded.body : {}) as unknown as Record<string, unknown>;
        // A field the version does not carry (JoinGroup v0's rebalance timeout) is not on the wire.
        for (const field of waits.filter((name) => fieldsOf(sent)[name] === 60_000)) {
          waitsFound.push(`${api.name}.${field}`);
          expect(fieldsOf(capped)[field], `${api.name} v${version} ${field}`).toBe(fuzzRequestWaitMsMax);
        }
      }
    }
    expect(new Set(waitsFound)).toEqual(
      new Set([
        'Produce.timeoutMs',
        'ListOffsets.timeoutMs',
        'Fetch.maxWaitMs',
        'JoinGroup.sessionTimeoutMs',
        'JoinGroup.rebalanceTimeoutMs',
        'CreateTopics.timeoutMs',
        'DeleteTopics.timeoutMs',
        'DeleteRecords.timeoutMs',
        'CreatePartitions.timeoutMs',
        'ElectLeaders.timeoutMs',
        'AlterPartitionReassignments.timeoutMs',
        'ListPartitionReassignments.timeoutMs',
        'UpdateFeatures.timeoutMs',
        'ConsumerGroupHeartbeat.rebalanceTimeoutMs',
      ]),
    );
  });

  it('names wait fields every version of their API has', () => {
    for (const [apiKey, fields] of Object.entries(requestWaitFields)) {
      const api = apiDefinition(Number(apiKey) as SupportedApiKey);
      for (let version = api.support.minVersion; version <= api.support.maxVersion; version++) {
        const body = randomMessage(api.request as never, version, new SeededRandom(version)) as object;
        for (const field of fields!)
          expect(typeof body[field as keyof object], `${api.name}.${field}`).toBe('number');
      }
    }
  });

  it('leaves partition counts as asked (the broker must cope with what the protocol allows)', () => {
    const createTopics = encodeRequest(ApiKey.CreateTopics, 4, 1, 'c', {
      topics: [{ name: 't', numPartitions: 9_999, replicationFactor: 1, assignments: [], configs: [] }],
      timeoutMs: 1,
      validateOnly: false,
    });
    const created = decodeRequest(capRequestDemands(createTopics));
    expect(created.ok && created.apiKey === ApiKey.CreateTopics && created.body).toMatchObject({
      topics: [{ numPartitions: 9_999 }],
      timeoutMs: 1,
    });
    const createPartitions = encodeRequest(ApiKey.CreatePartitions, 1, 1, 'c', {
      topics: [{ name: 't', count: 5_000, assignments: null }],
      timeoutMs: 60_000,
      validateOnly: false,
    });
    const raised = decodeRequest(capRequestDemands(createPartitions));
    expect(raised.ok && raised.apiKey === ApiKey.CreatePartitions && raised.body).toMatchObject({
      topics: [{ count: 5_000 }],
      timeoutMs: fuzzRequestWaitMsMax,
    });
  });

  it('leaves requests within the caps, and frames that do not decode, byte for byte', () => {
    const within = joinGroup(fuzzRequestWaitMsMax, 1);
    expect(capRequestDemands(within)).toBe(within);
    const garbage = Buffer.from('not a request at all');
    expect(capRequestDemands(garbage)).toBe(garbage);
  });
});

describe('FuzzFrameGenerator', () => {
  it('is deterministic per seed', () => {
    const first = generator(7);
    const second = generator(7);
    for (let index = 0; index < 1_000; index++) expect(second.next()).toEqual(first.next());
  });

  it('gives every kind its shape, and says of each case what the broker owes it', () => {
    const fuzz = generator(11);
    const seen = new Set<FuzzCaseKind>();
    const expected = new Map<string, number>();
    for (let index = 0; index < 20_000; index++) {
      const fuzzCase = fuzz.next();
      seen.add(fuzzCase.kind);
      const key = `${fuzzCase.kind}:${fuzzCase.expected.kind}`;
      expected.set(key, (expected.get(key) ?? 0) + 1);
      const declaredBytes = fuzzCase.bytes.length >= 4 ? fuzzCase.bytes.readInt32BE(0) : null;
      switch (fuzzCase.kind) {
        case 'oversized-size':
          expect(declaredBytes).toBeGreaterThan(frameMaxBytes);
          expect(fuzzCase.expected.kind).toBe('close');
          break;
        case 'negative-size':
          expect(declaredBytes).toBeLessThan(0);
          expect(fuzzCase.expected.kind).toBe('close');
          break;
        case 'truncated-stream':
          expect(fuzzCase.endsStream).toBe(true);
          expect(fuzzCase.expected.kind).toBe('close');
          if (declaredBytes !== null) expect(declaredBytes).toBeGreaterThan(fuzzCase.bytes.length - 4);
          break;
        case 'oversized-batch':
          expect(fuzzCase.bytes.length).toBeGreaterThan(100_000);
          expect(fuzzCase.expected).toMatchObject({ kind: 'answer', apiKey: ApiKey.Produce });
          break;
        default:
          // Framed kinds: the size prefix matches what follows, and the expectation is the decoder's.
          expect(declaredBytes).toBe(fuzzCase.bytes.length - 4);
          expect(fuzzCase.expected).toEqual(expectationOf(fuzzCase.bytes.subarray(4), servedApis));
      }
      if (fuzzCase.expected.kind !== 'close') {
        // What is owed an answer (or taken silently) decodes, and asks for no wait above the cap.
        const decoded = decodeRequest(fuzzCase.bytes.subarray(4));
        expect(decoded.ok || fuzzCase.apiKey === ApiKey.ApiVersions).toBe(true);
        if (decoded.ok && decoded.apiKey === ApiKey.Fetch)
          expect(decoded.body.maxWaitMs).toBeLessThanOrEqual(fuzzRequestWaitMsMax);
        if (decoded.ok && decoded.apiKey === ApiKey.JoinGroup) {
          expect(decoded.body.sessionTimeoutMs).toBeLessThanOrEqual(fuzzRequestWaitMsMax);
          expect(decoded.body.rebalanceTimeoutMs).toBeLessThanOrEqual(fuzzRequestWaitMsMax);
        }
      }
    }
    expect([...seen].sort()).toEqual(
      [
        'captured',
        'structured',
        'mutated',
        'random-bytes',
        'truncated-body',
        'version-mismatch',
        'oversized-size',
        'negative-size',
        'truncated-stream',
        'oversized-batch',
      ].sort(),
    );
    // Mutations and version shifts land on both sides: some still decode and are owed an answer.
    for (const kind of ['mutated', 'version-mismatch', 'structured', 'captured'])
      expect(expected.get(`${kind}:answer`), kind).toBeGreaterThan(0);
    for (const kind of ['mutated', 'version-mismatch', 'random-bytes', 'truncated-body'])
      expect(expected.get(`${kind}:close`), kind).toBeGreaterThan(0);
  });

  it('draws structured frames of every version of every API with a codec (what a broker can serve)', () => {
    const fuzz = generator(5);
    const drawn = new Set<string>();
    for (let index = 0; index < 12_000; index++) {
      const { bytes } = fuzz.caseOf('structured');
      // After the size prefix: the header's api key and api version.
      drawn.add(`${bytes.readInt16BE(4)}v${bytes.readInt16BE(6)}`);
    }
    const everyVersion = supportedApiVersions().flatMap((range) =>
      Array.from(
        { length: range.maxVersion - range.minVersion + 1 },
        (_, offset) => `${range.apiKey}v${range.minVersion + offset}`,
      ),
    );
    expect(everyVersion.filter((version) => !drawn.has(version))).toEqual([]);
  });

  it('mutates every captured API, group and admin APIs included', () => {
    const fuzz = generator(3);
    const mutatedApis = new Set<number>();
    for (let index = 0; index < 20_000; index++) {
      const fuzzCase = fuzz.caseOf('mutated');
      if (fuzzCase.apiKey !== null) mutatedApis.add(fuzzCase.apiKey);
    }
    for (const apiKey of [ApiKey.CreateTopics, ApiKey.CreatePartitions, ApiKey.JoinGroup, ApiKey.SyncGroup])
      expect(mutatedApis.has(apiKey), `api ${apiKey}`).toBe(true);
  });

  it('stamps correlation ids where the request header keeps them', () => {
    const fuzz = generator(5);
    const fuzzCase = fuzz.caseOf('captured');
    expect(stampCorrelationId(fuzzCase, 4242)).toBe(true);
    const decoded = decodeRequest(fuzzCase.bytes.subarray(4));
    expect(decoded.ok && decoded.header.correlationId).toBe(4242);
    const tiny = { ...fuzzCase, bytes: Buffer.from([0, 0, 0, 2, 0, 1]) };
    expect(stampCorrelationId(tiny, 1)).toBe(false);
  });
});

describe('the delegation token APIs', () => {
  it('are sent well-formed at every served version, each owed an answer', () => {
    const wanted = new Set<string>();
    for (const apiKey of [
      ApiKey.CreateDelegationToken,
      ApiKey.RenewDelegationToken,
      ApiKey.ExpireDelegationToken,
      ApiKey.DescribeDelegationToken,
    ]) {
      const range = supportedApiVersions().find((api) => api.apiKey === apiKey)!;
      for (let version = range.minVersion; version <= range.maxVersion; version++)
        wanted.add(`${apiKey} v${version}`);
    }
    expect(wanted.size).toBe(10);
    const fuzz = generator(14);
    const seen = new Set<string>();
    for (let index = 0; index < 20_000 && seen.size < wanted.size; index++) {
      const fuzzCase = fuzz.caseOf('structured');
      // size (int32), api key (int16), api version (int16)
      const key = `${fuzzCase.bytes.readInt16BE(4)} v${fuzzCase.bytes.readInt16BE(6)}`;
      if (!wanted.has(key)) continue;
      expect(fuzzCase.expected.kind, key).toBe('answer');
      seen.add(key);
    }
    expect([...seen].sort()).toEqual([...wanted].sort());
  });
});

import { readdirSync, readFileSync } from 'node:fs';
import { ApiKey, decodeRequest } from '@gregor/protocol';
import { describe, expect, it } from 'vitest';
import {
  type FuzzCaseKind,
  FuzzFrameGenerator,
  fuzzFetchMaxWaitMs,
  stampCorrelationId,
} from './fuzz-frames.js';

const fixturesDir = new URL('../../../protocol/test-fixtures/', import.meta.url);
const capturedFrames = readdirSync(fixturesDir)
  .filter((name) => name.endsWith('.hex'))
  .sort()
  .map((name) => Buffer.from(readFileSync(new URL(name, fixturesDir), 'utf8').trim(), 'hex'));

const servedApiKeys = new Set<number>([ApiKey.Produce, ApiKey.Fetch, ApiKey.Metadata, ApiKey.ApiVersions]);
const frameMaxBytes = 1024 * 1024;

function generator(seed: number): FuzzFrameGenerator {
  return new FuzzFrameGenerator({
    seed,
    capturedFrames,
    servedApiKeys,
    frameMaxBytes,
    messageMaxBytes: 100_000,
    oversizedBatchTopic: 'big',
    unmutatedApiKeys: new Set([ApiKey.CreateTopics]),
  });
}

describe('FuzzFrameGenerator', () => {
  it('is deterministic per seed', () => {
    const first = generator(7);
    const second = generator(7);
    for (let index = 0; index < 1_000; index++) expect(second.next()).toEqual(first.next());
  });

  it('gives every kind its shape', () => {
    const fuzz = generator(11);
    const seen = new Set<FuzzCaseKind>();
    for (let index = 0; index < 20_000; index++) {
      const fuzzCase = fuzz.next();
      seen.add(fuzzCase.kind);
      const declaredBytes = fuzzCase.bytes.length >= 4 ? fuzzCase.bytes.readInt32BE(0) : null;
      switch (fuzzCase.kind) {
        case 'oversized-size':
          expect(declaredBytes).toBeGreaterThan(frameMaxBytes);
          break;
        case 'negative-size':
          expect(declaredBytes).toBeLessThan(0);
          break;
        case 'truncated-stream':
          expect(fuzzCase.endsStream).toBe(true);
          if (declaredBytes !== null) expect(declaredBytes).toBeGreaterThan(fuzzCase.bytes.length - 4);
          break;
        case 'oversized-batch':
          expect(fuzzCase.bytes.length).toBeGreaterThan(100_000);
          break;
        default:
          // Framed kinds: the size prefix matches what follows.
          expect(declaredBytes).toBe(fuzzCase.bytes.length - 4);
      }
      if (!fuzzCase.risky) {
        // A case marked safe is a well-formed request of a served API.
        const decoded = decodeRequest(fuzzCase.bytes.subarray(4));
        expect(decoded.ok).toBe(true);
        if (decoded.ok) {
          expect(servedApiKeys.has(decoded.apiKey)).toBe(true);
          if (decoded.apiKey === ApiKey.Fetch)
            expect(decoded.body.maxWaitMs).toBeLessThanOrEqual(fuzzFetchMaxWaitMs);
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
  });

  it('never takes a skipped API as a mutation seed', () => {
    const createTopics = capturedFrames.filter((frame) => frame.readInt16BE(0) === ApiKey.CreateTopics);
    expect(createTopics.length).toBeGreaterThan(0);
    const options = {
      seed: 1,
      capturedFrames: createTopics,
      servedApiKeys,
      frameMaxBytes,
      messageMaxBytes: 100_000,
      oversizedBatchTopic: 'big',
    };
    expect(() => new FuzzFrameGenerator(options)).not.toThrow();
    expect(
      () => new FuzzFrameGenerator({ ...options, unmutatedApiKeys: new Set([ApiKey.CreateTopics]) }),
    ).toThrow(/at least one captured frame/);
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

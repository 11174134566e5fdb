// Bad input for the broker's network front: a seeded generator of request frames that real clients
// never send on purpose. Each case is the bytes one client writes, size prefix included:
//
//   captured         a frame captured from kcat/kafkajs/kafka-python, as sent
//   structured       a well-formed request of a random API and version with random field values
//   mutated          a captured frame with bytes flipped, overwritten, inserted, deleted or repeated
//   random-bytes     a correctly framed run of random bytes (zero length included)
//   truncated-body   a captured frame cut short, with a size prefix that matches the cut
//   version-mismatch a frame whose header names a version its body was not encoded for
//   oversized-size   a size prefix above socket.request.max.bytes
//   negative-size    a negative size prefix
//   truncated-stream a size prefix promising more bytes than follow, then the client's end of stream
//   oversized-batch  a well-formed Produce whose record batch is above message.max.bytes
//
// Pure: no sockets, files or clock; the caller passes the seed, the captured frames and which APIs
// the broker serves, and stamps each case with its own correlation id (`stampCorrelationId`) so the
// answers can be matched to cases.

import {
  ApiKey,
  apiDefinition,
  CompressionType,
  decodeRequest,
  encodeRecordBatch,
  encodeRequest,
  isSupportedApiKey,
  type MessageSchema,
  type RandomSource,
  type RequestInput,
  randomMessage,
  type SupportedApiKey,
  seededRandom,
  supportedApiVersions,
} from '@gregor/protocol';

export type FuzzCaseKind =
  | 'captured'
  | 'structured'
  | 'mutated'
  | 'random-bytes'
  | 'truncated-body'
  | 'version-mismatch'
  | 'oversized-size'
  | 'negative-size'
  | 'truncated-stream'
  | 'oversized-batch';

export interface FuzzCase {
  readonly kind: FuzzCaseKind;
  /** What the client writes: the int32 size prefix and the frame (or less, for truncated-stream). */
  readonly bytes: Buffer;
  /**
   * False when the frame is a well-formed request of an API the broker serves, so it should be
   * answered (or, for Produce with acks=0, silently taken); true when the broker may well close.
   */
  readonly risky: boolean;
  /** The client must end its stream after these bytes: they promise more than was sent. */
  readonly endsStream: boolean;
  /** The api key in the header as sent (null when the frame is too short to have one). */
  readonly apiKey: number | null;
}

export interface FuzzFrameGeneratorOptions {
  readonly seed: number;
  /** Request frames (without size prefix) captured from real clients: the seeds for mutation. */
  readonly capturedFrames: readonly Buffer[];
  /** The api keys the broker answers (from its ApiVersions response); the rest it closes on. */
  readonly servedApiKeys: ReadonlySet<number>;
  /** The broker's socket.request.max.bytes: oversized-size cases go above it. */
  readonly frameMaxBytes: number;
  /** The broker's message.max.bytes: oversized-batch cases go above it. */
  readonly messageMaxBytes: number;
  /** An existing topic the oversized batches are sent to (partition 0). */
  readonly oversizedBatchTopic: string;
  /**
   * Frames of these APIs are sent only well-formed: never mutated or shifted to another version.
   * For admin APIs a mutated partition count is still a valid request the broker obeys (up to
   * 10,000 partitions per topic): that tests resource limits, not framing. For group APIs a mutated
   * timeout holds the answer back for minutes, by design.
   */
  readonly unmutatedApiKeys?: ReadonlySet<number>;
}

/** Upper bound of random-bytes frames: long enough to reach into any header and some body. */
const randomFrameBytesMax = 512;
/** Mutation operations applied to one captured frame: a few, so most of its structure survives. */
const mutationsPerFrameMax = 4;
/** Bytes inserted by one insert mutation. */
const insertedBytesMax = 16;
/**
 * Fetch requests taken as seeds are rewritten to wait at most this long: a long poll on a topic that
 * exists is legitimate, but would make the fuzzer wait instead of fuzzing.
 */
export const fuzzFetchMaxWaitMs = 20;
/** Likewise for a JoinGroup's wait for the other members of its group (rebalance timeout, v1+). */
export const fuzzJoinRebalanceTimeoutMs = 20;
/** Values that sit on the edges of int32 arithmetic, written over length and count fields. */
const int32Edges = [0, 1, -1, 0x7fffffff, -0x80000000, 0x7ffffffe, 0x10000, 0xffff];

/** Out of 1000 cases, how many of each kind; the rest are 'structured'. */
const kindWeightsPerMille: readonly [FuzzCaseKind, number][] = [
  ['captured', 100],
  ['mutated', 250],
  ['random-bytes', 100],
  ['truncated-body', 100],
  ['version-mismatch', 100],
  ['oversized-size', 20],
  ['negative-size', 20],
  ['truncated-stream', 30],
  ['oversized-batch', 1],
];

/** Where the correlation id sits in a request frame (after api key and version). */
const correlationIdPosition = 4;
/** Bytes of api key + version + correlation id, the part of the header every version shares. */
const headerPrefixBytes = 8;

export class FuzzFrameGenerator {
  private readonly random: RandomSource;
  private readonly seeds: Buffer[];
  private readonly mutationSeeds: Buffer[];
  private readonly unmutatedApiKeys: ReadonlySet<number>;
  private readonly apiVersionRanges = new Map<number, { minVersion: number; maxVersion: number }>();
  private oversizedBatchFrame: Buffer | undefined;

  constructor(private readonly options: FuzzFrameGeneratorOptions) {
    this.random = seededRandom(options.seed);
    for (const range of supportedApiVersions()) this.apiVersionRanges.set(range.apiKey, range);
    this.seeds = options.capturedFrames.map(withShortWaits);
    this.unmutatedApiKeys = options.unmutatedApiKeys ?? new Set<number>();
    this.mutationSeeds = this.seeds.filter((frame) => !this.unmutatedApiKeys.has(frame.readInt16BE(0)));
    if (this.mutationSeeds.length === 0) throw new Error('the fuzzer needs at least one captured frame');
  }

  next(): FuzzCase {
    let roll = this.below(1000);
    for (const [kind, weight] of kindWeightsPerMille) {
      if (roll < weight) return this.caseOf(kind);
      roll -= weight;
    }
    return this.caseOf('structured');
  }

  caseOf(kind: FuzzCaseKind): FuzzCase {
    switch (kind) {
      case 'captured': {
        const frame = this.pick(this.seeds);
        return this.framed(kind, frame, !this.options.servedApiKeys.has(frame.readInt16BE(0)));
      }
      case 'structured':
        return this.structured();
      case 'mutated':
        return this.framed(kind, this.mutate(Buffer.from(this.pick(this.mutationSeeds))), true);
      case 'random-bytes':
        return this.framed(kind, this.randomBytes(this.below(randomFrameBytesMax + 1)), true);
      case 'truncated-body': {
        const frame = this.pick(this.seeds);
        return this.framed(kind, frame.subarray(0, this.below(frame.length)), true);
      }
      case 'version-mismatch':
        return this.versionMismatch();
      case 'oversized-size':
        return this.sizeOnly(
          kind,
          this.options.frameMaxBytes + 1 + this.below(0x7fffffff - this.options.frameMaxBytes),
        );
      case 'negative-size':
        return this.sizeOnly(kind, -1 - this.below(0x7fffffff));
      case 'truncated-stream': {
        const frame = this.pick(this.seeds);
        const whole = sizePrefixed(frame);
        // Cut anywhere short of the end, the size prefix itself included.
        return {
          kind,
          bytes: whole.subarray(0, this.below(whole.length)),
          risky: true,
          endsStream: true,
          apiKey: frame.readInt16BE(0),
        };
      }
      case 'oversized-batch': {
        this.oversizedBatchFrame ??= this.buildOversizedBatch();
        return this.framed(kind, Buffer.from(this.oversizedBatchFrame), true);
      }
    }
  }

  /** A random int in [0, boundExclusive). */
  below(boundExclusive: number): number {
    return this.random.nextUint32() % boundExclusive;
  }

  private pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)]!;
  }

  private randomBytes(length: number): Buffer {
    const bytes = Buffer.allocUnsafe(length);
    for (let index = 0; index < length; index++) bytes[index] = this.random.nextUint32() & 0xff;
    return bytes;
  }

  private framed(kind: FuzzCaseKind, frame: Buffer, risky: boolean): FuzzCase {
    return {
      kind,
      bytes: sizePrefixed(frame),
      risky,
      endsStream: false,
      apiKey: frame.length >= 2 ? frame.readInt16BE(0) : null,
    };
  }

  private sizeOnly(kind: FuzzCaseKind, size: number): FuzzCase {
    const bytes = Buffer.concat([Buffer.alloc(4), this.randomBytes(this.below(64))]);
    bytes.writeInt32BE(size, 0);
    return { kind, bytes, risky: true, endsStream: false, apiKey: null };
  }

  private structured(): FuzzCase {
    const apiKeys = [...this.apiVersionRanges.keys()];
    const apiKey = this.pick(apiKeys);
    const range = this.apiVersionRanges.get(apiKey)!;
    const version = range.minVersion + this.below(range.maxVersion - range.minVersion + 1);
    const frame = this.randomRequest(apiKey, version);
    return this.framed('structured', frame, !this.options.servedApiKeys.has(apiKey));
  }

  private randomRequest(apiKey: number, version: number): Buffer {
    if (!isSupportedApiKey(apiKey)) throw new Error(`api key ${apiKey} has no codec`);
    const schema = apiDefinition(apiKey).request as MessageSchema<never>;
    const body = randomMessage(schema, version, this.random) as Record<string, unknown>;
    if (apiKey === ApiKey.Fetch) body.maxWaitMs = this.below(fuzzFetchMaxWaitMs + 1);
    if (apiKey === ApiKey.JoinGroup) body.rebalanceTimeoutMs = this.below(fuzzJoinRebalanceTimeoutMs + 1);
    const clientId = this.below(8) === 0 ? null : `fuzz-${this.below(1000)}`;
    return encodeRequest(apiKey, version, 0, clientId, body as RequestInput<SupportedApiKey>);
  }

  private versionMismatch(): FuzzCase {
    const frame = Buffer.from(
      this.below(2) === 0 ? this.pick(this.mutationSeeds) : this.randomRequest(...this.randomApiAndVersion()),
    );
    const apiKey = frame.readInt16BE(0);
    const version = frame.readInt16BE(2);
    const range = this.apiVersionRanges.get(apiKey);
    let otherVersion: number;
    // Mostly another version we do support (the body layout is wrong for it); sometimes one we don't.
    if (range !== undefined && range.maxVersion > range.minVersion && this.below(4) !== 0) {
      do otherVersion = range.minVersion + this.below(range.maxVersion - range.minVersion + 1);
      while (otherVersion === version);
    } else {
      otherVersion =
        this.below(2) === 0 ? (range?.maxVersion ?? 0) + 1 + this.below(100) : -1 - this.below(100);
    }
    frame.writeInt16BE(otherVersion, 2);
    return this.framed('version-mismatch', frame, true);
  }

  private randomApiAndVersion(): [number, number] {
    const apiKey = this.pick(
      [...this.apiVersionRanges.keys()].filter((key) => !this.unmutatedApiKeys.has(key)),
    );
    const range = this.apiVersionRanges.get(apiKey)!;
    return [apiKey, range.minVersion + this.below(range.maxVersion - range.minVersion + 1)];
  }

  private mutate(frame: Buffer): Buffer {
    let bytes = frame;
    const mutations = 1 + this.below(mutationsPerFrameMax);
    for (let step = 0; step < mutations && bytes.length > 0; step++) {
      const at = this.below(bytes.length);
      switch (this.below(6)) {
        case 0:
          bytes[at] = bytes[at]! ^ (1 << this.below(8));
          break;
        case 1:
          bytes[at] = this.random.nextUint32() & 0xff;
          break;
        case 2: {
          // An int32 edge value over whatever is there: lengths, counts and sizes are int32 or int16.
          if (at + 4 <= bytes.length) bytes.writeInt32BE(this.pick(int32Edges) | 0, at);
          break;
        }
        case 3:
          bytes = Buffer.concat([
            bytes.subarray(0, at),
            this.randomBytes(1 + this.below(insertedBytesMax)),
            bytes.subarray(at),
          ]);
          break;
        case 4:
          bytes = Buffer.concat([
            bytes.subarray(0, at),
            bytes.subarray(at + 1 + this.below(insertedBytesMax)),
          ]);
          break;
        default: {
          const length = 1 + this.below(Math.min(insertedBytesMax, bytes.length - at));
          const repeated = bytes.subarray(at, at + length);
          bytes = Buffer.concat([bytes.subarray(0, at + length), repeated, bytes.subarray(at + length)]);
        }
      }
    }
    return bytes;
  }

  private buildOversizedBatch(): Buffer {
    // Random bytes do not compress, so the batch stays above the limit as written.
    const value = this.randomBytes(this.options.messageMaxBytes + 1024);
    const records = encodeRecordBatch({
      compression: CompressionType.None,
      records: [{ key: null, value, timestamp: 1_700_000_000_000 }],
    });
    return encodeRequest(ApiKey.Produce, 7, 0, 'fuzz', {
      transactionalId: null,
      acks: 1,
      timeoutMs: 5_000,
      topics: [{ name: this.options.oversizedBatchTopic, partitions: [{ partitionIndex: 0, records }] }],
    });
  }
}

/**
 * Writes `correlationId` into a case's frame when the frame is long enough to carry one, so the
 * response (answers carry the request's id) names the case. Returns whether it did.
 */
export function stampCorrelationId(fuzzCase: FuzzCase, correlationId: number): boolean {
  if (fuzzCase.bytes.length < 4 + headerPrefixBytes) return false;
  const size = fuzzCase.bytes.readInt32BE(0);
  if (size < headerPrefixBytes) return false;
  fuzzCase.bytes.writeInt32BE(correlationId, 4 + correlationIdPosition);
  return true;
}

function sizePrefixed(frame: Buffer): Buffer {
  const bytes = Buffer.allocUnsafe(4 + frame.length);
  bytes.writeInt32BE(frame.length, 0);
  frame.copy(bytes, 4);
  return bytes;
}

/** Captured Fetch and JoinGroup frames re-encoded with short waits (see above); others unchanged. */
function withShortWaits(frame: Buffer): Buffer {
  const decoded = decodeRequest(frame);
  if (!decoded.ok) return frame;
  const { apiVersion, header } = decoded;
  if (decoded.apiKey === ApiKey.Fetch) {
    return encodeRequest(ApiKey.Fetch, apiVersion, header.correlationId, header.clientId, {
      ...decoded.body,
      maxWaitMs: fuzzFetchMaxWaitMs,
    });
  }
  if (decoded.apiKey === ApiKey.JoinGroup && apiVersion >= 1) {
    return encodeRequest(ApiKey.JoinGroup, apiVersion, header.correlationId, header.clientId, {
      ...decoded.body,
      rebalanceTimeoutMs: fuzzJoinRebalanceTimeoutMs,
    });
  }
  return frame;
}

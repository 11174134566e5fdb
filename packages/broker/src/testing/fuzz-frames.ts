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
// Every case says beforehand what the broker must do with it (`expected`), decided by the protocol
// package's own request decoder and the broker's advertised API ranges, not by how the case was
// made: a mutation that still decodes is a well-formed request and must be answered. Every API is
// fuzzed alike; what a well-formed request may ask the broker to wait for (long polls, group and
// admin timeouts) is capped instead (`capRequestDemands`), so an answer is owed within a bounded time.
//
// Pure: no sockets, files or clock; the caller passes the seed, the captured frames and what the
// broker serves, and stamps each case with its own correlation id (`stampCorrelationId`) so the
// answers can be matched to cases.

import { SeededRandom } from '@gregor/ground';
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
  randomBelow,
  randomBytes,
  randomMessage,
  randomPick,
  type SupportedApiKey,
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

/** What the broker owes a case. */
export type FuzzExpectation =
  /**
   * A well-formed request of an API and version the broker serves (or an ApiVersions request in a
   * version it does not, answered with error 35 in the v0 layout): answered on its connection, in
   * order, with a response that decodes as `apiKey` at `responseVersion`.
   */
  | { readonly kind: 'answer'; readonly apiKey: SupportedApiKey; readonly responseVersion: number }
  /**
   * A well-formed Produce with acks=0: never answered. Kafka's rule: if the write failed, the broker
   * closes the connection instead, so the producer notices; otherwise the connection carries on.
   */
  | { readonly kind: 'unanswered-produce' }
  /**
   * Anything else (bad framing, a header or body that does not decode, an API or version the broker
   * does not serve, a stream that ends inside a frame): the broker closes this connection, after
   * answering every request that came before it on it.
   */
  | { readonly kind: 'close'; readonly reason: string };

export interface FuzzCase {
  readonly kind: FuzzCaseKind;
  /** What the client writes: the int32 size prefix and the frame (or less, for truncated-stream). */
  readonly bytes: Buffer;
  readonly expected: FuzzExpectation;
  /** The client must end its stream after these bytes: they promise more than was sent. */
  readonly endsStream: boolean;
  /** The api key in the header as sent (null when the frame is too short to have one). */
  readonly apiKey: number | null;
}

/** An API the broker serves and its version range, as its ApiVersions response lists them. */
export interface ServedApi {
  readonly apiKey: number;
  readonly minVersion: number;
  readonly maxVersion: number;
}

export interface FuzzFrameGeneratorOptions {
  readonly seed: number;
  /** Request frames (without size prefix) captured from real clients: the seeds for mutation. */
  readonly capturedFrames: readonly Buffer[];
  /** What the broker answers (from its ApiVersions response); it closes on anything else. */
  readonly servedApis: readonly ServedApi[];
  /** The broker's socket.request.max.bytes: oversized-size cases go above it. */
  readonly frameMaxBytes: number;
  /** The broker's message.max.bytes: oversized-batch cases go above it. */
  readonly messageMaxBytes: number;
  /** An existing topic the oversized batches are sent to (partition 0). */
  readonly oversizedBatchTopic: string;
}

/** Upper bound of random-bytes frames: long enough to reach into any header and some body. */
const randomFrameBytesMax = 512;
/** Mutation operations applied to one captured frame: a few, so most of its structure survives. */
const mutationsPerFrameMax = 4;
/** Bytes inserted by one insert mutation. */
const insertedBytesMax = 16;
/**
 * The longest a fuzzed request may ask the broker to hold its answer: Fetch max_wait_ms, JoinGroup
 * session and rebalance timeouts, and the timeouts of Produce and the admin APIs. Each of these is a
 * legitimate wait when a client asks for it; capped, every well-formed request is owed an answer
 * within this (plus processing), and none has to be excused from the hang check.
 */
export const fuzzRequestWaitMsMax = 100;
/** The acks values of real producers. */
const producerAcks = [-1, 0, 1];
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

/**
 * What the broker owes a request frame (without size prefix), decided by the protocol package's
 * decoder, as the broker's own request router decides it.
 */
export function expectationOf(frame: Buffer, servedApis: readonly ServedApi[]): FuzzExpectation {
  const decoded = decodeRequest(frame);
  if (!decoded.ok) {
    if (decoded.reason === 'unsupported-version' && decoded.apiKey === ApiKey.ApiVersions)
      return { kind: 'answer', apiKey: ApiKey.ApiVersions, responseVersion: 0 };
    return { kind: 'close', reason: `${decoded.reason}: ${decoded.message}` };
  }
  const served = servedApis.find((api) => api.apiKey === decoded.apiKey);
  if (served === undefined)
    return { kind: 'close', reason: `api key ${decoded.apiKey} is not served by the broker` };
  if (decoded.apiVersion < served.minVersion || decoded.apiVersion > served.maxVersion) {
    return decoded.apiKey === ApiKey.ApiVersions
      ? { kind: 'answer', apiKey: ApiKey.ApiVersions, responseVersion: 0 }
      : { kind: 'close', reason: `api key ${decoded.apiKey} v${decoded.apiVersion} is not served` };
  }
  if (decoded.apiKey === ApiKey.Produce && decoded.body.acks === 0) return { kind: 'unanswered-produce' };
  return { kind: 'answer', apiKey: decoded.apiKey, responseVersion: decoded.apiVersion };
}

/**
 * The request fields, per API, that ask the broker to hold its answer (in ms): long polls, the
 * group's session and rebalance timeouts (a JoinGroup v0 waits its session timeout), and how long
 * Produce and the admin APIs wait for replication or the controller. InitProducerId's transaction
 * timeout is not one: it is answered at once. A unit test finds these fields by name in every API.
 */
export const requestWaitFields: Readonly<Partial<Record<SupportedApiKey, readonly string[]>>> = {
  [ApiKey.Produce]: ['timeoutMs'],
  // v10+; Gregor has no remote storage to wait for and ignores it, capped all the same.
  [ApiKey.ListOffsets]: ['timeoutMs'],
  [ApiKey.Fetch]: ['maxWaitMs'],
  [ApiKey.JoinGroup]: ['sessionTimeoutMs', 'rebalanceTimeoutMs'],
  [ApiKey.CreateTopics]: ['timeoutMs'],
  [ApiKey.DeleteTopics]: ['timeoutMs'],
  [ApiKey.DeleteRecords]: ['timeoutMs'],
  [ApiKey.CreatePartitions]: ['timeoutMs'],
  [ApiKey.ElectLeaders]: ['timeoutMs'],
  [ApiKey.AlterPartitionReassignments]: ['timeoutMs'],
  [ApiKey.ListPartitionReassignments]: ['timeoutMs'],
  [ApiKey.UpdateFeatures]: ['timeoutMs'],
  // Not a wait for the answer (a heartbeat is answered at once) but how long a member keeps
  // partitions it was asked to revoke: capped so the fuzzer's members cannot hold them for longer.
  [ApiKey.ConsumerGroupHeartbeat]: ['rebalanceTimeoutMs'],
};

/**
 * The frame with every wait it asks for capped at `fuzzRequestWaitMsMax`; the same bytes when it asks
 * for no longer (or does not decode at all). Nothing else is capped: partition counts in CreateTopics
 * and CreatePartitions go as generated or mutated (the controller's own limits answer them).
 */
export function capRequestDemands(frame: Buffer): Buffer {
  const decoded = decodeRequest(frame);
  if (!decoded.ok) return frame;
  const fields = requestWaitFields[decoded.apiKey] ?? [];
  const body = { ...decoded.body } as Record<string, unknown>;
  const tooLong = fields.filter((field) => (body[field] as number) > fuzzRequestWaitMsMax);
  if (tooLong.length === 0) return frame;
  for (const field of tooLong) body[field] = fuzzRequestWaitMsMax;
  const { header } = decoded;
  return encodeRequest(
    decoded.apiKey,
    decoded.apiVersion,
    header.correlationId,
    header.clientId,
    body as RequestInput<SupportedApiKey>,
  );
}

export class FuzzFrameGenerator {
  private readonly random: RandomSource;
  private readonly seeds: readonly Buffer[];
  private readonly apiVersionRanges = new Map<number, { minVersion: number; maxVersion: number }>();
  private oversizedBatchFrame: Buffer | undefined;

  constructor(private readonly options: FuzzFrameGeneratorOptions) {
    this.random = new SeededRandom(options.seed);
    for (const range of supportedApiVersions()) this.apiVersionRanges.set(range.apiKey, range);
    this.seeds = options.capturedFrames;
    if (this.seeds.length === 0) throw new Error('the fuzzer needs at least one captured frame');
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
      case 'captured':
        return this.framed(kind, this.pick(this.seeds));
      case 'structured':
        return this.framed(kind, this.randomRequest(...this.randomApiAndVersion()));
      case 'mutated':
        return this.framed(kind, this.mutate(Buffer.from(this.pick(this.seeds))));
      case 'random-bytes':
        return this.framed(kind, this.randomBytes(this.below(randomFrameBytesMax + 1)));
      case 'truncated-body': {
        const frame = this.pick(this.seeds);
        return this.framed(kind, frame.subarray(0, this.below(frame.length)));
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
          expected: { kind: 'close', reason: 'the stream ends inside a frame' },
          endsStream: true,
          apiKey: frame.readInt16BE(0),
        };
      }
      case 'oversized-batch': {
        this.oversizedBatchFrame ??= this.buildOversizedBatch();
        return this.framed(kind, Buffer.from(this.oversizedBatchFrame));
      }
    }
  }

  /** A random int in [0, boundExclusive). */
  below(boundExclusive: number): number {
    return randomBelow(this.random, boundExclusive);
  }

  private pick<T>(items: readonly T[]): T {
    return randomPick(this.random, items);
  }

  private randomBytes(length: number): Buffer {
    return randomBytes(this.random, length);
  }

  /** A whole frame, its waits capped, with what the broker owes it. */
  private framed(kind: FuzzCaseKind, frame: Buffer): FuzzCase {
    const sent = capRequestDemands(frame);
    return {
      kind,
      bytes: sizePrefixed(sent),
      expected: expectationOf(sent, this.options.servedApis),
      endsStream: false,
      apiKey: sent.length >= 2 ? sent.readInt16BE(0) : null,
    };
  }

  private sizeOnly(kind: FuzzCaseKind, size: number): FuzzCase {
    const bytes = Buffer.concat([Buffer.alloc(4), this.randomBytes(this.below(64))]);
    bytes.writeInt32BE(size, 0);
    return {
      kind,
      bytes,
      expected: { kind: 'close', reason: `frame size ${size} is outside [0, socket.request.max.bytes]` },
      endsStream: false,
      apiKey: null,
    };
  }

  private randomRequest(apiKey: number, version: number): Buffer {
    if (!isSupportedApiKey(apiKey)) throw new Error(`api key ${apiKey} has no codec`);
    const schema = apiDefinition(apiKey).request as MessageSchema<never>;
    const body = randomMessage(schema, version, this.random) as Record<string, unknown>;
    // A random int16 is almost never an acks value clients use; mostly send one that is, 0 included.
    if (apiKey === ApiKey.Produce && this.below(4) !== 0) body.acks = this.pick(producerAcks);
    const clientId = this.below(8) === 0 ? null : `fuzz-${this.below(1000)}`;
    return encodeRequest(apiKey, version, 0, clientId, body as RequestInput<SupportedApiKey>);
  }

  private versionMismatch(): FuzzCase {
    const frame = Buffer.from(
      this.below(2) === 0 ? this.pick(this.seeds) : this.randomRequest(...this.randomApiAndVersion()),
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
    return this.framed('version-mismatch', frame);
  }

  private randomApiAndVersion(): [number, number] {
    const apiKey = this.pick([...this.apiVersionRanges.keys()]);
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
      timeoutMs: fuzzRequestWaitMsMax,
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

// Bad input for a node's internal gRPC listener (the CONTROLLER listener: Raft, the controller RPCs,
// replica fetching, leaders' high watermarks and transaction markers, proto/*.proto): a seeded
// generator of
//
//   unary calls  the body of one call to any method of any service, as bytes:
//     structured       a well-formed request with random field values (protobufjs encodes it)
//     unknown-fields   the same with fields the schema does not have appended
//     wrong-wire-type  the same with one of its fields appended again under another wire type
//     mutated          the same with bytes flipped, overwritten, inserted, deleted or cut off
//     random-bytes     random bytes (zero length included)
//   raw HTTP/2   bytes written straight to the listener's TCP port:
//     no-preface, truncated-preface, random-frames (after the HTTP/2 preface), truncated-frame,
//     garbage-headers (a HEADERS frame of random HPACK bytes)
//
// Who a structured request claims to be is chosen on purpose (`GrpcIdentity`): another cluster, a node
// outside controller.quorum.voters, or (for the admin RPCs, which carry no node identity) this
// cluster. A call never claims to be a voter of this cluster: without TLS such a call is that voter's
// call, and Raft and the controller must obey it (a vote in a higher epoch starts an election by
// design), so it tests authentication, which the listener does not have yet, not bad input.
//
// Each call says beforehand what the node owes it (`expected`), decided by decoding the bytes with
// protobufjs as the server does: the gRPC server refuses what does not decode; a call from another
// cluster or a non-voter is refused by the service; an admin call of this cluster is served.
//
// Pure: no sockets, files or clock; the caller passes the loaded schemas, the seed and the cluster.

import { SeededRandom } from '@gregor/ground';
import { type RandomSource, randomBelow, randomBytes, randomPick } from '@gregor/protocol';
import protobuf from 'protobufjs';
import { fuzzRequestWaitMsMax } from './fuzz-frames.js';

export type GrpcCallKind = 'structured' | 'unknown-fields' | 'wrong-wire-type' | 'mutated' | 'random-bytes';

/** Who a structured request claims to be. */
export type GrpcIdentity =
  /** A cluster id other than this cluster's. */
  | 'foreign-cluster'
  /** This cluster's id, and a node id (sender, broker, replica) that is not a voter. */
  | 'non-voter'
  /** This cluster's id on an admin RPC (topics, configs, metadata), which names no node. */
  | 'admin'
  /** Every field random, the cluster id included. */
  | 'random';

/** What the node owes a call. */
export type GrpcCallExpectation =
  /** The bytes are not a request of the method: the gRPC server answers INTERNAL, deserializing. */
  | { readonly kind: 'undecodable' }
  /**
   * Refused by the service, changing nothing: Raft answers INVALID_ARGUMENT or FAILED_PRECONDITION;
   * the controller and replica fetching answer OK with an error code in the response
   * (INCONSISTENT_CLUSTER_ID for another cluster).
   */
  | { readonly kind: 'refused'; readonly foreignCluster: boolean }
  /** An admin call of this cluster: answered OK (its error codes are the controller's verdict). */
  | { readonly kind: 'served' };

export interface GrpcFuzzMethod {
  /** `gregor.raft.RaftQuorum`, ... */
  readonly service: string;
  readonly name: string;
  /** The HTTP/2 path of the call: `/gregor.raft.RaftQuorum/Deliver`. */
  readonly path: string;
  readonly requestType: protobuf.Type;
  readonly responseType: protobuf.Type;
}

export interface GrpcFuzzCall {
  readonly kind: GrpcCallKind;
  /** Who the request was built to claim to be (what it decodes to decides `expected`). */
  readonly identity: GrpcIdentity;
  readonly method: GrpcFuzzMethod;
  readonly body: Buffer;
  readonly expected: GrpcCallExpectation;
}

export type RawHttp2Kind =
  | 'no-preface'
  | 'truncated-preface'
  | 'random-frames'
  | 'truncated-frame'
  | 'garbage-headers';

export interface RawHttp2Case {
  readonly kind: RawHttp2Kind;
  readonly bytes: Buffer;
}

export interface GrpcFuzzOptions {
  readonly seed: number;
  /** proto/raft.proto, controller.proto, replication.proto and transactions.proto, loaded and resolved. */
  readonly root: protobuf.Root;
  readonly clusterId: string;
  readonly voterIds: readonly number[];
  /** Topics that exist: replica fetches name them (and random ones), admin calls never do. */
  readonly existingTopics: readonly string[];
}

/** The services of the CONTROLLER listener. */
export const internalServiceNames = [
  'gregor.raft.RaftQuorum',
  'gregor.controller.Controller',
  'gregor.replication.ReplicaFetch',
  'gregor.replication.LeaderHighWatermarks',
  'gregor.transactions.TxnMarkers',
] as const;

/**
 * How @grpc/proto-loader turns a decoded message into the object a handler gets (the options of
 * grpc/protos.ts and raft-service.ts).
 */
export const protoLoaderConversion: protobuf.IConversionOptions = {
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
};

/** The request field that names the calling node, per method that has one. */
const nodeIdentityFields: Readonly<Record<string, string>> = {
  'gregor.raft.RaftQuorum/Deliver': 'from',
  'gregor.controller.Controller/RegisterBroker': 'brokerId',
  'gregor.controller.Controller/BrokerHeartbeat': 'brokerId',
  'gregor.controller.Controller/AlterPartition': 'brokerId',
  'gregor.controller.Controller/AllocateProducerIds': 'brokerId',
  'gregor.replication.ReplicaFetch/Fetch': 'replicaId',
};

/** Admin RPCs: the cluster id is their only credential. */
const adminMethods: ReadonlySet<string> = new Set([
  'gregor.controller.Controller/CreateTopics',
  'gregor.controller.Controller/DeleteTopics',
  'gregor.controller.Controller/CreatePartitions',
  'gregor.controller.Controller/IncrementalAlterConfigs',
  'gregor.controller.Controller/AlterUserScramCredentials',
  'gregor.controller.Controller/CreateDelegationToken',
  'gregor.controller.Controller/RenewDelegationToken',
  'gregor.controller.Controller/ExpireDelegationToken',
  'gregor.controller.Controller/CreateAcls',
  'gregor.controller.Controller/DeleteAcls',
  'gregor.controller.Controller/AlterClientQuotas',
  'gregor.controller.Controller/DescribeMetadata',
  'gregor.controller.Controller/ElectLeaders',
  'gregor.controller.Controller/DescribeQuorum',
  'gregor.controller.Controller/MetadataBarrier',
  // Served as any admin call: at most it moves group.version between 0 and 1, the only level Gregor has.
  'gregor.controller.Controller/UpdateFeatures',
]);

/**
 * Topics admin calls may create, change and delete: a handful, so the fuzzer's own topics stay few.
 * Every other name an admin call carries is not a valid topic name.
 */
export const fuzzTopicNames = ['grpc-fuzz-0', 'grpc-fuzz-1', 'grpc-fuzz-2', 'grpc-fuzz-3'];
const topicConfigNames = [
  'retention.ms',
  'retention.bytes',
  'cleanup.policy',
  'segment.bytes',
  'max.message.bytes',
  'min.insync.replicas',
  'message.timestamp.type',
  'unclean.leader.election.enable',
];

/** Out of 1000 calls, how many of each kind; the rest are 'structured'. */
const callKindWeightsPerMille: readonly [GrpcCallKind, number][] = [
  ['unknown-fields', 150],
  ['wrong-wire-type', 150],
  ['mutated', 200],
  ['random-bytes', 100],
];
/** Nested messages deeper than this are left unset. */
const messageDepthMax = 4;
const repeatedItemsMax = 4;
const stringCharsMax = 40;
const bytesMax = 64;
const randomBodyBytesMax = 256;
const mutationsPerBodyMax = 4;
const unknownFieldsMax = 3;
/** Field numbers above the schemas' (all below 20), up to protobuf's largest. */
const unknownFieldNumberMin = 100;
const fieldNumberMax = 0x1fffffff;
const int32Edges = [0, 1, -1, 2, 3, 0x7fffffff, -0x80000000, 0x7ffffffe, 0x10000, 0xffff];
/** Strings that are not topic names (empty, dots, bad characters, too long). */
const invalidTopicNames = ['', '.', '..', 'a b', 'a/b', 'tøpic', 'x'.repeat(250), 'a\u0000b', '$'];

const http2Preface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const http2FrameHeaderBytes = 9;
/** HTTP/2 frame types 0-9 (DATA .. CONTINUATION); above is unknown, which a peer must ignore. */
const http2FrameTypesKnown = 10;
const rawFramePayloadBytesMax = 64;
const rawFramesMax = 6;

/** Every method of the CONTROLLER listener's services, in `root`. */
export function internalMethods(root: protobuf.Root): GrpcFuzzMethod[] {
  return internalServiceNames.flatMap((serviceName) =>
    root.lookupService(serviceName).methodsArray.map((method) => {
      method.resolve();
      return {
        service: serviceName,
        name: method.name,
        path: `/${serviceName}/${method.name}`,
        requestType: method.resolvedRequestType!,
        responseType: method.resolvedResponseType!,
      };
    }),
  );
}

/** The request as the service's handler would get it, or null when the server cannot decode it. */
export function decodeRequestBody(method: GrpcFuzzMethod, body: Buffer): Record<string, unknown> | null {
  try {
    return method.requestType.toObject(method.requestType.decode(body), protoLoaderConversion);
  } catch {
    return null;
  }
}

/** A call that claims, with this cluster's id, to come from one of its voters (never sent). */
export function forgesVoter(
  method: GrpcFuzzMethod,
  request: Record<string, unknown>,
  cluster: { readonly clusterId: string; readonly voterIds: readonly number[] },
): boolean {
  const field = nodeIdentityFields[`${method.service}/${method.name}`];
  return (
    field !== undefined &&
    request.clusterId === cluster.clusterId &&
    cluster.voterIds.includes(request[field] as number)
  );
}

/** What the node owes a call of `method` with these bytes; null for a forged voter call (never sent). */
export function expectationOfCall(
  method: GrpcFuzzMethod,
  body: Buffer,
  cluster: { readonly clusterId: string; readonly voterIds: readonly number[] },
): GrpcCallExpectation | null {
  const request = decodeRequestBody(method, body);
  if (request === null) return { kind: 'undecodable' };
  if (forgesVoter(method, request, cluster)) return null;
  const key = `${method.service}/${method.name}`;
  // DescribeMetadata is read by tools that do not know the cluster id yet: an empty one is let through.
  const anonymousRead = method.name === 'DescribeMetadata' && request.clusterId === '';
  const foreignCluster = request.clusterId !== cluster.clusterId && !anonymousRead;
  if (foreignCluster) return { kind: 'refused', foreignCluster: true };
  if (nodeIdentityFields[key] !== undefined) return { kind: 'refused', foreignCluster: false };
  // Raft has no admin calls: every envelope names its sender.
  return { kind: 'served' };
}

export class GrpcFuzzGenerator {
  private readonly random: RandomSource;
  readonly methods: readonly GrpcFuzzMethod[];

  constructor(private readonly options: GrpcFuzzOptions) {
    this.random = new SeededRandom(options.seed);
    this.methods = internalMethods(options.root);
  }

  /** The next call, to a random method. */
  nextCall(): GrpcFuzzCall {
    let roll = this.below(1000);
    let kind: GrpcCallKind = 'structured';
    for (const [candidate, weight] of callKindWeightsPerMille) {
      if (roll < weight) {
        kind = candidate;
        break;
      }
      roll -= weight;
    }
    return this.callOf(kind, this.pick(this.methods));
  }

  callOf(kind: GrpcCallKind, method: GrpcFuzzMethod): GrpcFuzzCall {
    for (;;) {
      const identity = this.identityFor(method);
      const body = this.bodyOf(kind, method, identity);
      const expected = expectationOfCall(method, body, this.options);
      // A forged voter call (a mutation can turn a non-voter id into a voter's): draw again.
      if (expected !== null) return { kind, identity, method, body, expected };
    }
  }

  nextRawHttp2(): RawHttp2Case {
    const kinds: RawHttp2Kind[] = [
      'no-preface',
      'truncated-preface',
      'random-frames',
      'truncated-frame',
      'garbage-headers',
    ];
    return this.rawHttp2Of(this.pick(kinds));
  }

  rawHttp2Of(kind: RawHttp2Kind): RawHttp2Case {
    switch (kind) {
      case 'no-preface':
        return { kind, bytes: this.randomBytes(this.below(512)) };
      case 'truncated-preface':
        return { kind, bytes: http2Preface.subarray(0, this.below(http2Preface.length)) };
      case 'random-frames': {
        const frames = Array.from({ length: 1 + this.below(rawFramesMax) }, () => this.randomFrame());
        return { kind, bytes: Buffer.concat([http2Preface, ...frames]) };
      }
      case 'truncated-frame': {
        const frame = this.randomFrame();
        return {
          kind,
          bytes: Buffer.concat([
            http2Preface,
            emptySettingsFrame(),
            frame.subarray(0, this.below(frame.length)),
          ]),
        };
      }
      case 'garbage-headers': {
        const block = this.randomBytes(1 + this.below(rawFramePayloadBytesMax));
        // END_STREAM | END_HEADERS on stream 1, the first stream a client may open.
        const headers = http2Frame(0x1, 0x5, 1, block);
        return { kind, bytes: Buffer.concat([http2Preface, emptySettingsFrame(), headers]) };
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

  private identityFor(method: GrpcFuzzMethod): GrpcIdentity {
    const key = `${method.service}/${method.name}`;
    const identities: GrpcIdentity[] = ['foreign-cluster', 'random'];
    if (nodeIdentityFields[key] !== undefined) identities.push('non-voter', 'non-voter');
    if (adminMethods.has(key)) identities.push('admin', 'admin');
    return this.pick(identities);
  }

  private bodyOf(kind: GrpcCallKind, method: GrpcFuzzMethod, identity: GrpcIdentity): Buffer {
    if (kind === 'random-bytes') return this.randomBytes(this.below(randomBodyBytesMax + 1));
    const message = this.randomMessage(method.requestType, identity, 0);
    const encoded = Buffer.from(method.requestType.encode(message).finish());
    switch (kind) {
      case 'structured':
        return encoded;
      case 'unknown-fields':
        return Buffer.concat([encoded, this.unknownFields(method.requestType)]);
      case 'wrong-wire-type':
        return Buffer.concat([encoded, this.wrongWireType(method.requestType)]);
      case 'mutated':
        return this.mutate(encoded);
    }
  }

  /** A message of `type` with random values; `identity` decides who it claims to be. */
  private randomMessage(type: protobuf.Type, identity: GrpcIdentity, depth: number): Record<string, unknown> {
    const message: Record<string, unknown> = {};
    // One member per oneof (or none): a well-formed message never sets two.
    const chosenOneofMembers = new Set<string>();
    for (const oneof of type.oneofsArray) {
      const pickable = [...oneof.fieldsArray, undefined];
      const chosen = this.pick(pickable);
      if (chosen !== undefined) chosenOneofMembers.add(chosen.name);
    }
    for (const field of type.fieldsArray) {
      field.resolve();
      if (field.partOf !== null && !chosenOneofMembers.has(field.name)) continue;
      if (field.resolvedType instanceof protobuf.Type && depth >= messageDepthMax) continue;
      const value = () => this.fieldValue(type, field, identity, depth);
      if (field.repeated)
        message[field.name] = Array.from({ length: this.below(repeatedItemsMax + 1) }, value);
      else message[field.name] = value();
    }
    return message;
  }

  private fieldValue(
    type: protobuf.Type,
    field: protobuf.Field,
    identity: GrpcIdentity,
    depth: number,
  ): unknown {
    if (identity !== 'random') {
      const chosen = this.chosenValue(type, field, identity);
      if (chosen !== undefined) return chosen;
    }
    const resolved = field.resolvedType;
    if (resolved instanceof protobuf.Type) return this.randomMessage(resolved, identity, depth + 1);
    if (resolved instanceof protobuf.Enum) {
      const values = Object.values(resolved.values);
      return this.below(4) === 0 ? this.randomInt32() : this.pick(values);
    }
    return this.scalar(field.type);
  }

  /** Values that decide who a request claims to be, and that reach past the first checks. */
  private chosenValue(type: protobuf.Type, field: protobuf.Field, identity: GrpcIdentity): unknown {
    const { clusterId } = this.options;
    if (field.name === 'clusterId')
      return identity === 'foreign-cluster' ? this.foreignClusterId() : clusterId;
    const key = `${type.name}.${field.name}`;
    switch (key) {
      case 'RaftEnvelope.from':
      case 'RegisterBrokerRequest.brokerId':
      case 'BrokerHeartbeatRequest.brokerId':
      case 'AlterPartitionRequest.brokerId':
      case 'AllocateProducerIdsRequest.brokerId':
      case 'ReplicaFetchRequest.replicaId':
        return this.nonVoterId();
      case 'RaftEnvelope.to':
        return this.below(4) === 0 ? this.randomInt32() : this.pick(this.options.voterIds);
      case 'CreatableTopic.name':
      case 'CreatePartitionsTopic.name':
      case 'DeleteTopicsRequest.names':
      case 'AlterTopicConfigs.topicName':
        return this.below(4) === 0 ? this.pick(invalidTopicNames) : this.pick(fuzzTopicNames);
      case 'PartitionFetch.topic':
        return this.below(4) === 0 ? this.randomString() : this.pick(this.options.existingTopics);
      case 'CreatableTopic.numPartitions':
      case 'CreatePartitionsTopic.count':
        return this.pick([-1, 0, 1, 2, 3, this.randomInt32()]);
      case 'CreatableTopic.replicationFactor':
        return this.pick([-1, 0, 1, 2, 3, 4, this.randomInt32()]);
      case 'ReplicaFetchRequest.maxWaitMs':
        return Math.min(this.randomInt32(), fuzzRequestWaitMsMax);
      case 'ConfigEntry.name':
      case 'AlterConfigOp.name':
        return this.below(4) === 0 ? this.randomString() : this.pick(topicConfigNames);
      // A registration that passes the controller's own checks, so only the voter check stands.
      case 'RegisterBrokerRequest.incarnationId':
        return this.below(4) === 0 ? this.randomString() : this.randomUuid();
      case 'Endpoint.name':
        return this.pick(['PLAINTEXT', 'SSL', 'INTERNAL', this.randomString()]);
      case 'Endpoint.port':
        return this.below(4) === 0 ? this.randomInt32() : 1 + this.below(0xffff);
      case 'AlterConfigOp.operation':
        return this.pick(['set', 'delete', this.randomString()]);
      default:
        return undefined;
    }
  }

  private nonVoterId(): number {
    for (;;) {
      const id = this.pick([0, 4, 5, 99, -1, 1000, 0x7fffffff, -0x80000000, this.randomInt32()]);
      if (!this.options.voterIds.includes(id)) return id;
    }
  }

  private foreignClusterId(): string {
    for (;;) {
      const id = this.below(3) === 0 ? `${this.options.clusterId}x` : this.randomString();
      // The empty id is DescribeMetadata's anonymous read, not another cluster.
      if (id !== this.options.clusterId && id !== '') return id;
    }
  }

  private scalar(type: string): unknown {
    switch (type) {
      case 'int32':
      case 'sint32':
      case 'sfixed32':
        return this.randomInt32();
      case 'uint32':
      case 'fixed32':
        return this.randomInt32() >>> 0;
      case 'int64':
      case 'sint64':
      case 'sfixed64':
      case 'uint64':
      case 'fixed64':
        return this.randomInt64(type.startsWith('u') || type === 'fixed64');
      case 'bool':
        return this.below(2) === 1;
      case 'string':
        return this.randomString();
      case 'bytes':
        return this.randomBytes(this.below(bytesMax + 1));
      case 'double':
      case 'float':
        return this.randomInt32() / 1024;
      default:
        throw new Error(`no random value for protobuf type ${type}`);
    }
  }

  private randomInt32(): number {
    return this.below(2) === 0 ? this.pick(int32Edges) : this.random.nextUint32() | 0;
  }

  private randomInt64(unsigned: boolean): number | protobuf.Long {
    switch (this.below(4)) {
      case 0:
        return this.pick([0, 1, -1, 2, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER]);
      case 1:
        // Past 2^53: the node reads int64 as a JavaScript number and must refuse what it cannot hold.
        return this.pick([longBits(-1, 0x7fffffff), longBits(0, -0x80000000), longBits(1, 0x200000)]);
      default:
        return longBits(this.random.nextUint32(), this.random.nextUint32(), unsigned);
    }
  }

  /** Kafka's UUID form: 16 bytes as 22 characters of unpadded base64url. */
  private randomUuid(): string {
    return this.randomBytes(16).toString('base64url');
  }

  private randomString(): string {
    const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789-_.é日 /\u0000';
    let text = '';
    const length = this.below(stringCharsMax + 1);
    for (let index = 0; index < length; index++) text += alphabet[this.below(alphabet.length)];
    return text;
  }

  /** Fields `type` does not declare, each in a random (valid) wire type. */
  private unknownFields(type: protobuf.Type): Buffer {
    const writer = protobuf.Writer.create();
    const declared = new Set(type.fieldsArray.map((field) => field.id));
    for (let count = 1 + this.below(unknownFieldsMax); count > 0; count--) {
      let id: number;
      do id = unknownFieldNumberMin + this.below(fieldNumberMax - unknownFieldNumberMin + 1);
      while (declared.has(id));
      this.writeField(writer, id, this.pick([0, 1, 2, 5]));
    }
    return Buffer.from(writer.finish());
  }

  /** One of `type`'s fields appended again under a wire type its declared type does not use. */
  private wrongWireType(type: protobuf.Type): Buffer {
    const field = this.pick(type.fieldsArray);
    const declared = wireTypeOf(field);
    const writer = protobuf.Writer.create();
    // Wire types 3 and 4 (groups) are deprecated; a lone one is malformed, which is bad input too.
    const wrong = this.pick([0, 1, 2, 3, 5].filter((wireType) => wireType !== declared));
    this.writeField(writer, field.id, wrong);
    return Buffer.from(writer.finish());
  }

  private writeField(writer: protobuf.Writer, id: number, wireType: number): void {
    writer.uint32(((id << 3) | wireType) >>> 0);
    switch (wireType) {
      case 0:
        writer.uint64(longBits(this.random.nextUint32(), this.random.nextUint32(), true));
        break;
      case 1:
        writer.fixed64(longBits(this.random.nextUint32(), this.random.nextUint32(), true));
        break;
      case 2:
        writer.bytes(this.randomBytes(this.below(bytesMax + 1)));
        break;
      case 5:
        writer.fixed32(this.random.nextUint32());
        break;
      default:
        // A group start with nothing after it.
        break;
    }
  }

  private mutate(body: Buffer): Buffer {
    let bytes = Buffer.from(body);
    const mutations = 1 + this.below(mutationsPerBodyMax);
    for (let step = 0; step < mutations && bytes.length > 0; step++) {
      const at = this.below(bytes.length);
      switch (this.below(5)) {
        case 0:
          bytes[at] = bytes[at]! ^ (1 << this.below(8));
          break;
        case 1:
          bytes[at] = this.random.nextUint32() & 0xff;
          break;
        case 2:
          bytes = Buffer.concat([
            bytes.subarray(0, at),
            this.randomBytes(1 + this.below(8)),
            bytes.subarray(at),
          ]);
          break;
        case 3:
          bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 1 + this.below(8))]);
          break;
        default:
          bytes = bytes.subarray(0, at);
      }
    }
    return bytes;
  }

  private randomFrame(): Buffer {
    const type = this.below(4) === 0 ? this.below(256) : this.below(http2FrameTypesKnown);
    const streamId = this.pick([0, 1, 2, 3, 0x7fffffff, this.random.nextUint32() & 0x7fffffff]);
    const frame = http2Frame(
      type,
      this.below(256),
      streamId,
      this.randomBytes(this.below(rawFramePayloadBytesMax + 1)),
    );
    // Sometimes a length field that does not match what follows.
    if (this.below(4) === 0) frame.writeUIntBE(this.random.nextUint32() & 0xffffff, 0, 3);
    return frame;
  }
}

/** A 64-bit value from its two halves, in the shape protobufjs writes (it needs only the bits). */
function longBits(low: number, high: number, unsigned = false): protobuf.Long {
  return { low: low | 0, high: high | 0, unsigned } as protobuf.Long;
}

/** The wire type protobuf writes a field's values in (packed repeated scalars are length-delimited). */
function wireTypeOf(field: protobuf.Field): number {
  if (field.resolvedType instanceof protobuf.Type) return 2;
  if (field.repeated && field.type !== 'string' && field.type !== 'bytes') return 2;
  switch (field.type) {
    case 'string':
    case 'bytes':
      return 2;
    case 'fixed64':
    case 'sfixed64':
    case 'double':
      return 1;
    case 'fixed32':
    case 'sfixed32':
    case 'float':
      return 5;
    default:
      return 0;
  }
}

function http2Frame(type: number, flags: number, streamId: number, payload: Buffer): Buffer {
  const frame = Buffer.alloc(http2FrameHeaderBytes + payload.length);
  frame.writeUIntBE(payload.length, 0, 3);
  frame.writeUInt8(type, 3);
  frame.writeUInt8(flags, 4);
  frame.writeUInt32BE(streamId >>> 0, 5);
  payload.copy(frame, http2FrameHeaderBytes);
  return frame;
}

function emptySettingsFrame(): Buffer {
  return http2Frame(0x4, 0, 0, Buffer.alloc(0));
}

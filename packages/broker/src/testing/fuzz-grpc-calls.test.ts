import { join } from 'node:path';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { protoDir } from '../grpc/protos.js';
import {
  decodeRequestBody,
  expectationOfCall,
  forgesVoter,
  type GrpcCallKind,
  GrpcFuzzGenerator,
  type GrpcFuzzMethod,
  internalMethods,
  internalServiceNames,
} from './fuzz-grpc-calls.js';

const root = protobuf.loadSync(
  ['raft.proto', 'controller.proto', 'replication.proto', 'transactions.proto'].map((file) =>
    join(protoDir(), file),
  ),
);
root.resolveAll();
const cluster = { clusterId: 'fuzz-cluster', voterIds: [1, 2, 3] };

function generator(seed: number): GrpcFuzzGenerator {
  return new GrpcFuzzGenerator({ seed, root, ...cluster, existingTopics: ['canary'] });
}

function method(path: string): GrpcFuzzMethod {
  const found = internalMethods(root).find((candidate) => candidate.path === path);
  if (found === undefined) throw new Error(`no method ${path}`);
  return found;
}

const encode = (path: string, message: object) =>
  Buffer.from(method(path).requestType.encode(message).finish());

describe('expectationOfCall', () => {
  it('owes a refusal to another cluster and to a non-voter, and serves admin calls of this cluster', () => {
    const deliver = '/gregor.raft.RaftQuorum/Deliver';
    const foreign = encode(deliver, { clusterId: 'other', from: 2, to: 1, beginQuorumEpoch: { epoch: 1 } });
    expect(expectationOfCall(method(deliver), foreign, cluster)).toEqual({
      kind: 'refused',
      foreignCluster: true,
    });
    const nonVoter = encode(deliver, {
      clusterId: 'fuzz-cluster',
      from: 7,
      to: 1,
      beginQuorumEpoch: { epoch: 1 },
    });
    expect(expectationOfCall(method(deliver), nonVoter, cluster)).toEqual({
      kind: 'refused',
      foreignCluster: false,
    });
    const createTopics = '/gregor.controller.Controller/CreateTopics';
    const admin = encode(createTopics, { clusterId: 'fuzz-cluster', topics: [{ name: 'grpc-fuzz-0' }] });
    expect(expectationOfCall(method(createTopics), admin, cluster)).toEqual({ kind: 'served' });
    const describeMetadata = '/gregor.controller.Controller/DescribeMetadata';
    expect(expectationOfCall(method(describeMetadata), Buffer.alloc(0), cluster)).toEqual({ kind: 'served' });
  });

  it('owes a deserializing error to bytes that are not a message, and never sends a forged voter call', () => {
    const deliver = method('/gregor.raft.RaftQuorum/Deliver');
    // Field 1 opening a group (wire type 3) that nothing closes.
    expect(expectationOfCall(deliver, Buffer.from([0x0b]), cluster)).toEqual({
      kind: 'undecodable',
    });
    const forged = encode('/gregor.raft.RaftQuorum/Deliver', { clusterId: 'fuzz-cluster', from: 2, to: 1 });
    expect(expectationOfCall(deliver, forged, cluster)).toBeNull();
  });
});

describe('GrpcFuzzGenerator', () => {
  it('is deterministic per seed', () => {
    const first = generator(7);
    const second = generator(7);
    for (let index = 0; index < 500; index++) {
      const [a, b] = [first.nextCall(), second.nextCall()];
      expect(b.body).toEqual(a.body);
      expect(b.method.path).toBe(a.method.path);
      expect(second.nextRawHttp2()).toEqual(first.nextRawHttp2());
    }
  });

  it('covers every method of every internal service with every kind, and never forges a voter', () => {
    const fuzz = generator(11);
    const seen = new Set<string>();
    const outcomes = new Map<string, number>();
    for (let index = 0; index < 20_000; index++) {
      const call = fuzz.nextCall();
      seen.add(`${call.method.path} ${call.kind}`);
      outcomes.set(call.expected.kind, (outcomes.get(call.expected.kind) ?? 0) + 1);
      expect(call.expected).toEqual(expectationOfCall(call.method, call.body, cluster));
      const request = decodeRequestBody(call.method, call.body);
      if (request !== null) expect(forgesVoter(call.method, request, cluster)).toBe(false);
    }
    const kinds: GrpcCallKind[] = [
      'structured',
      'unknown-fields',
      'wrong-wire-type',
      'mutated',
      'random-bytes',
    ];
    for (const { path } of internalMethods(root))
      for (const kind of kinds) expect(seen).toContain(`${path} ${kind}`);
    expect(new Set(internalMethods(root).map((m) => m.service))).toEqual(new Set(internalServiceNames));
    for (const kind of ['undecodable', 'refused', 'served'])
      expect(outcomes.get(kind), kind).toBeGreaterThan(500);
  });

  it('keeps structured bodies well-formed: they decode, with one member per oneof', () => {
    const fuzz = generator(5);
    const deliver = method('/gregor.raft.RaftQuorum/Deliver');
    for (let index = 0; index < 500; index++) {
      const call = fuzz.callOf('structured', deliver);
      const decoded = deliver.requestType.decode(call.body) as unknown as Record<string, unknown>;
      const bodies = ['voteRequest', 'voteResponse', 'beginQuorumEpoch', 'fetchRequest', 'fetchResponse']
        .concat(['fetchSnapshotRequest', 'fetchSnapshotResponse'])
        .filter((name) => decoded[name] != null);
      expect(bodies.length).toBeLessThanOrEqual(1);
    }
  });
});

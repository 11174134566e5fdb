// Bad input against the internal gRPC listener (the CONTROLLER listener: Raft, the controller RPCs
// and replica fetching) of a real three-node process cluster (testing/fuzz-grpc-calls.ts):
//   - unary calls to every method of every service: well-formed requests with random field values,
//     with unknown fields, with fields under the wrong wire type, mutated bytes, random bytes; from
//     another cluster, from node ids outside the voters, and admin calls of this cluster;
//   - raw TCP: random bytes, a cut HTTP/2 preface, random and truncated HTTP/2 frames;
//   - gRPC framing over valid HTTP/2: a message larger than the listener accepts (a real one, and a
//     length prefix claiming 4 GiB), a compressed flag without an encoding, a message cut short, two
//     messages on a unary call, an unknown method.
// Each call is classified before it is sent and held to it (refused by the gRPC server when it does
// not decode; refused by the service, changing nothing, when it comes from another cluster or a
// non-voter; answered when it is an admin call of this cluster). Outcomes are counted and printed,
// and any violation fails. Afterwards every node is alive, the metadata image (brokers and their
// epochs, the active controller and its epoch, every topic that existed with its partitions, leaders,
// epochs, ISR and configs, the producer-id block) is what it was, except for the topics the fuzzer's
// own admin calls were told they created, and a well-behaved client still produces and consumes.
//
// Replay with GRPC_FUZZ_SEED=<seed>; GRPC_FUZZ_CALLS=<n> runs longer (the default keeps CI near 30 s).

import { once } from 'node:events';
import http2 from 'node:http2';
import { connect } from 'node:net';
import { join } from 'node:path';
import { KafkaConnection } from '@gregor/client';
import { waitFor } from '@gregor/ground/testing';
import { applyRecords, decodeMetadataBatch, MetadataImage } from '@gregor/metadata';
import { ApiKey, decodeRecordBatch, ErrorCode, encodeRecordBatch } from '@gregor/protocol';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeMetadata } from '../grpc/describe-metadata-client.js';
import { internalServerOptions, protoDir } from '../grpc/protos.js';
import {
  fuzzTopicNames,
  type GrpcFuzzCall,
  GrpcFuzzGenerator,
  type GrpcFuzzMethod,
  internalMethods,
  protoLoaderConversion,
} from '../testing/fuzz-grpc-calls.js';
import { ProcessCluster } from '../testing/process-cluster.js';

const fuzzSeed = Number(process.env.GRPC_FUZZ_SEED ?? 0x3c6ef372);
const callsMin = Number(process.env.GRPC_FUZZ_CALLS ?? 10_000);
/** Raw TCP connections, per this many calls. */
const callsPerRawConnection = 8;
/** Calls in flight at once, spread over the three nodes. */
const callLanes = 12;
const rawLanes = 4;
/**
 * A call unanswered after this long is a hang (a violation). Nothing the fuzzer asks for waits: replica
 * fetches ask for at most fuzzRequestWaitMsMax, and controller calls wait only for a commit.
 */
const callDeadlineMs = 5_000;
/** How long a raw connection is watched for the node to close it before the fuzzer closes it. */
const rawCloseWaitMs = 200;
/** The well-behaved client checks in after this many more calls. */
const canaryEveryCalls = 500;
const violationsShownMax = 20;
const canaryTopic = 'grpc-fuzz-canary';
const callTimeoutMs = 10_000;
const voterIds = [1, 2, 3];

const root = protobuf.loadSync(
  ['raft.proto', 'controller.proto', 'replication.proto', 'transactions.proto'].map((file) =>
    join(protoDir(), file),
  ),
);
root.resolveAll();
const methods = internalMethods(root);
const receiveMessageBytesMax = internalServerOptions['grpc.max_receive_message_length'] as number;

let cluster: ProcessCluster;
const logLevelBefore = process.env.GREGOR_IT_LOG_LEVEL;
/** One raw-bytes gRPC client per node. */
const clients = new Map<number, grpc.Client>();

beforeAll(async () => {
  // Every refused call is a warning; thousands of them would only slow the nodes down.
  process.env.GREGOR_IT_LOG_LEVEL = 'error';
  cluster = await ProcessCluster.start({
    nodeCount: 3,
    properties: {
      // Kafka's defaults rather than Gregor's fast-failover ones: the fuzzer loads two shared cores,
      // and a node starved for a second must not be taken for dead, an election or fencing that
      // would change the epochs this test holds still.
      'controller.quorum.election.timeout.ms': '1000',
      'controller.quorum.fetch.timeout.ms': '2000',
      'broker.session.timeout.ms': '9000',
      'broker.heartbeat.interval.ms': '500',
      'auto.create.topics.enable': 'false',
    },
  });
  for (const node of cluster.nodes) {
    clients.set(
      node.id,
      new grpc.Client(`127.0.0.1:${node.quorumPort}`, grpc.credentials.createInsecure(), {
        // The fuzzer decides what is too large, not its own client.
        'grpc.max_send_message_length': -1,
        'grpc.max_receive_message_length': -1,
      }),
    );
  }
});

afterAll(async () => {
  for (const client of clients.values()) client.close();
  if (logLevelBefore === undefined) delete process.env.GREGOR_IT_LOG_LEVEL;
  else process.env.GREGOR_IT_LOG_LEVEL = logLevelBefore;
  await cluster?.close();
});

function aliveNodes(): number[] {
  return cluster.nodes
    .filter(
      (node) =>
        node.process !== undefined && node.process.exitCode === null && node.process.signalCode === null,
    )
    .map((node) => node.id);
}

interface CallResult {
  readonly error: grpc.ServiceError | null;
  readonly response: Buffer | undefined;
}

/** One unary call with `body` as the request's bytes, answered with the response's bytes. */
function rawCall(
  nodeId: number,
  path: string,
  body: Buffer,
  deadlineMs = callDeadlineMs,
): Promise<CallResult> {
  const client = clients.get(nodeId)!;
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      path,
      (bytes: Buffer) => bytes,
      (bytes: Buffer) => bytes,
      body,
      new grpc.Metadata(),
      { deadline: Date.now() + deadlineMs },
      (error, response) => resolve({ error: error ?? null, response }),
    );
  });
}

// ----------------------------------------------------------------------------- the metadata image

async function imageOf(nodeId: number): Promise<{ image: MetadataImage; offset: number }> {
  const described = await describeMetadata({
    host: '127.0.0.1',
    port: cluster.node(nodeId).quorumPort,
    clusterId: cluster.clusterId,
    timeoutMs: callTimeoutMs,
  });
  const image =
    described.imageSnapshot.length === 0
      ? MetadataImage.empty
      : applyRecords(MetadataImage.empty, decodeMetadataBatch(described.imageSnapshot));
  return { image, offset: described.metadataOffset };
}

/** The image once every node has applied the same metadata offset (it settles after a change). */
async function settledImage(): Promise<MetadataImage> {
  let last = '';
  return waitFor(
    'the nodes to agree on a metadata offset',
    async () => {
      const views = await Promise.all(voterIds.map(imageOf));
      last = views.map((view) => view.offset).join(',');
      return views.every((view) => view.offset === views[0]!.offset) ? views[0]!.image : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 200, detail: () => `last seen ${last}` },
  );
}

/** What the fuzzer must not have changed, in comparable form. */
function heldStill(image: MetadataImage, topics: Iterable<string>) {
  return {
    brokers: [...image.brokers.values()].sort((a, b) => a.brokerId - b.brokerId),
    controller: image.controller,
    producerIds: image.producerIds,
    topics: [...topics].map((name) => {
      const topic = image.topic(name);
      return topic === undefined
        ? { name, missing: true }
        : {
            name,
            topicId: topic.topicId,
            partitions: topic.partitions,
            configs: [...image.topicConfigs(name)],
          };
    }),
  };
}

// ----------------------------------------------------------------------------- the good client

async function kafkaConnection(nodeId: number, clientId: string): Promise<KafkaConnection> {
  return KafkaConnection.open({ host: '127.0.0.1', port: cluster.node(nodeId).kafkaPort, clientId });
}

async function createTopic(name: string): Promise<void> {
  const connection = await kafkaConnection(1, 'grpc-fuzz-admin');
  try {
    const created = await connection.call(
      ApiKey.CreateTopics,
      4,
      {
        topics: [{ name, numPartitions: 1, replicationFactor: 3, assignments: [], configs: [] }],
        timeoutMs: callTimeoutMs,
        validateOnly: false,
      },
      callTimeoutMs,
    );
    expect(created.topics[0]?.errorCode, JSON.stringify(created.topics[0])).toBe(ErrorCode.NONE);
  } finally {
    connection.close();
  }
  // The answer comes once node 1 applied the topic; the leader may be another node, not there yet.
  const deadline = Date.now() + callTimeoutMs;
  while (!(await Promise.all(voterIds.map((nodeId) => servesTopic(nodeId, name)))).every(Boolean)) {
    if (Date.now() > deadline) throw new Error(`topic ${name} is not served by every node`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Whether a node's Metadata lists `name` with a leader (so the leader has applied it). */
async function servesTopic(nodeId: number, name: string): Promise<boolean> {
  const connection = await kafkaConnection(nodeId, 'grpc-fuzz-admin');
  try {
    const metadata = await connection.call(
      ApiKey.Metadata,
      9,
      {
        topics: [{ name }],
        allowAutoTopicCreation: false,
        includeClusterAuthorizedOperations: false,
        includeTopicAuthorizedOperations: false,
      },
      callTimeoutMs,
    );
    const topic = metadata.topics[0];
    return topic?.errorCode === ErrorCode.NONE && voterIds.includes(topic.partitions[0]?.leaderId ?? -1);
  } finally {
    connection.close();
  }
}

/** Produces one record with acks=all to the partition's leader and fetches it back; throws otherwise. */
async function roundTrip(topic: string, sequence: number): Promise<void> {
  const lookup = await kafkaConnection(1 + (sequence % 3), 'grpc-fuzz-canary');
  let leaderId: number;
  try {
    const metadata = await lookup.call(
      ApiKey.Metadata,
      9,
      {
        topics: [{ name: topic }],
        allowAutoTopicCreation: false,
        includeClusterAuthorizedOperations: false,
        includeTopicAuthorizedOperations: false,
      },
      callTimeoutMs,
    );
    leaderId = metadata.topics[0]?.partitions[0]?.leaderId ?? -1;
    if (!voterIds.includes(leaderId))
      throw new Error(`${topic}: no leader in ${JSON.stringify(metadata.topics)}`);
  } finally {
    lookup.close();
  }
  const leader = await kafkaConnection(leaderId, 'grpc-fuzz-canary');
  try {
    const value = Buffer.from(`${topic}-${sequence}`);
    const produced = await leader.call(
      ApiKey.Produce,
      7,
      {
        transactionalId: null,
        acks: -1,
        timeoutMs: callTimeoutMs,
        topics: [
          {
            name: topic,
            partitions: [
              {
                partitionIndex: 0,
                records: encodeRecordBatch({ records: [{ key: null, value, timestamp: 1_700_000_000_000 }] }),
              },
            ],
          },
        ],
      },
      callTimeoutMs,
    );
    const partition = produced.responses[0]?.partitions[0];
    if (partition?.errorCode !== ErrorCode.NONE)
      throw new Error(`${topic}: produce error ${partition?.errorCode}`);
    const fetched = await leader.call(
      ApiKey.Fetch,
      11,
      {
        replicaId: -1,
        maxWaitMs: 0,
        minBytes: 0,
        maxBytes: 1024 * 1024,
        isolationLevel: 0,
        sessionId: 0,
        sessionEpoch: -1,
        topics: [
          {
            topic,
            partitions: [
              {
                partition: 0,
                currentLeaderEpoch: -1,
                fetchOffset: partition.baseOffset,
                logStartOffset: -1n,
                partitionMaxBytes: 1024 * 1024,
              },
            ],
          },
        ],
        forgottenTopicsData: [],
        rackId: '',
      },
      callTimeoutMs,
    );
    const records = fetched.responses[0]?.partitions[0]?.records;
    const first =
      records === null || records === undefined ? undefined : decodeRecordBatch(records).records[0];
    if (first?.value?.equals(value) !== true)
      throw new Error(`${topic}: fetched ${first?.value?.toString()}`);
  } finally {
    leader.close();
  }
}

// ----------------------------------------------------------------------------- the oracle

/** Every call and raw connection ends in exactly one of these. */
class GrpcFuzzOutcomes {
  /** Admin calls of this cluster answered OK with a response that decodes. */
  served = 0;
  /** Calls from another cluster or a non-voter refused by the service. */
  refused = 0;
  /** Bodies that are not a request of the method, refused by the gRPC server. */
  undecodable = 0;
  /** Raw connections the node closed (GOAWAY or close) within rawCloseWaitMs. */
  rawClosedByNode = 0;
  /** Raw connections still open after rawCloseWaitMs (the node waiting for more), closed by the fuzzer. */
  rawLeftOpen = 0;
  violations = 0;
  readonly violationDetails: string[] = [];
  /** Topics an admin call was told it created or deleted. */
  readonly createdTopics = new Set<string>();
  readonly deletedTopics = new Set<string>();
  readonly byCall = new Map<string, number>();

  get calls(): number {
    return this.served + this.refused + this.undecodable + this.callViolations;
  }

  private callViolations = 0;

  count(call: GrpcFuzzCall, outcome: string): void {
    const key = `${call.method.name} ${call.kind} ${call.identity} ${outcome}`;
    this.byCall.set(key, (this.byCall.get(key) ?? 0) + 1);
  }

  violation(what: string, call?: GrpcFuzzCall): void {
    this.violations++;
    if (call !== undefined) {
      this.callViolations++;
      this.count(call, 'violation');
    }
    if (this.violationDetails.length < violationsShownMax) {
      const sent =
        call === undefined
          ? ''
          : `\n    ${call.method.path} ${call.kind} ${call.identity}: ${call.body.toString('hex')}`;
      this.violationDetails.push(`${what}${sent}`);
    }
  }

  summary(): string {
    return JSON.stringify({
      seed: fuzzSeed,
      calls: this.calls,
      served: this.served,
      refused: this.refused,
      undecodable: this.undecodable,
      rawClosedByNode: this.rawClosedByNode,
      rawLeftOpen: this.rawLeftOpen,
      violations: this.violations,
      createdTopics: [...this.createdTopics],
      deletedTopics: [...this.deletedTopics],
    });
  }
}

const isRaft = (method: GrpcFuzzMethod) => method.service === 'gregor.raft.RaftQuorum';

/** What is wrong with the node's answer to `call`, or null. Records admin effects in `outcomes`. */
function judgeCall(call: GrpcFuzzCall, result: CallResult, outcomes: GrpcFuzzOutcomes): string | null {
  const { error } = result;
  const status = error === null ? 'OK' : `${grpc.status[error.code]} (${error.details})`;
  if (call.expected.kind === 'undecodable') {
    if (error?.code === grpc.status.INTERNAL && error.details.startsWith('Error deserializing request')) {
      outcomes.undecodable++;
      return null;
    }
    return `an undecodable body was answered ${status}`;
  }
  if (isRaft(call.method)) {
    // Raft's refusals are statuses (proto/raft.proto); the fuzzer never sends what Raft would take.
    if (error?.code === grpc.status.INVALID_ARGUMENT || error?.code === grpc.status.FAILED_PRECONDITION) {
      outcomes.refused++;
      return null;
    }
    return `a raft envelope from another cluster or a non-voter was answered ${status}`;
  }
  if (error !== null || result.response === undefined) return `answered ${status}`;
  let response: Record<string, unknown>;
  try {
    const type = call.method.responseType;
    response = type.toObject(type.decode(result.response), protoLoaderConversion);
  } catch (decodeError) {
    return `the response does not decode: ${String(decodeError)}`;
  }
  // The controller's answers carry a ControllerStatus; replica fetching a bare error code.
  const errorCode = ((response.status as { errorCode?: number } | undefined)?.errorCode ??
    response.errorCode) as number;
  const shown = JSON.stringify(response).slice(0, 300);
  if (call.expected.kind === 'refused') {
    if (call.expected.foreignCluster) {
      if (errorCode !== ErrorCode.INCONSISTENT_CLUSTER_ID)
        return `a call from another cluster was answered ${shown}`;
    } else if (call.method.name === 'Fetch') {
      const partitions = response.partitions as { errorCode: number }[];
      if (
        errorCode === ErrorCode.NONE &&
        partitions.some((partition) => partition.errorCode === ErrorCode.NONE)
      )
        return `a replica fetch from a non-voter was served: ${shown}`;
    } else if (
      errorCode === ErrorCode.NONE &&
      (response.partitionErrorCode ?? ErrorCode.NONE) === ErrorCode.NONE
    ) {
      // AlterPartition answers a refused change in partition_error_code.
      return `a call from a non-voter was accepted: ${shown}`;
    }
    outcomes.refused++;
    return null;
  }
  const request = call.method.requestType.toObject(
    call.method.requestType.decode(call.body),
    protoLoaderConversion,
  );
  if (call.method.name === 'CreateTopics' && request.validateOnly !== true) {
    for (const topic of response.topics as { name: string; errorCode: number }[])
      if (topic.errorCode === ErrorCode.NONE) outcomes.createdTopics.add(topic.name);
  }
  if (call.method.name === 'DeleteTopics') {
    for (const topic of response.topics as { name: string; errorCode: number }[])
      if (topic.errorCode === ErrorCode.NONE) outcomes.deletedTopics.add(topic.name);
  }
  outcomes.served++;
  return null;
}

/** Writes `bytes` to a node's listener and watches whether it closes the connection. */
async function rawConnection(nodeId: number, bytes: Buffer): Promise<'closed' | 'open'> {
  const socket = connect({ host: '127.0.0.1', port: cluster.node(nodeId).quorumPort });
  socket.on('error', () => {});
  socket.on('data', () => {});
  await once(socket, 'connect');
  const closed = once(socket, 'close').then(() => 'closed' as const);
  socket.write(bytes);
  const outcome = await Promise.race([
    closed,
    new Promise<'open'>((resolve) => setTimeout(() => resolve('open'), rawCloseWaitMs)),
  ]);
  socket.destroy();
  return outcome;
}

/** One gRPC request over a plain HTTP/2 stream, framed by hand: its grpc-status, or why there is none. */
async function handFramedCall(
  nodeId: number,
  path: string,
  payload: Buffer,
  headers: http2.OutgoingHttpHeaders = {},
): Promise<string> {
  const session = http2.connect(`http://127.0.0.1:${cluster.node(nodeId).quorumPort}`);
  session.on('error', () => {});
  try {
    const stream = session.request({
      ':method': 'POST',
      ':path': path,
      'content-type': 'application/grpc',
      te: 'trailers',
      ...headers,
    });
    stream.on('error', () => {});
    const status = new Promise<string>((resolve) => {
      stream.on('response', (responseHeaders) => {
        // A refusal before any message comes as a trailers-only response.
        if (responseHeaders['grpc-status'] !== undefined) resolve(String(responseHeaders['grpc-status']));
      });
      stream.on('trailers', (trailers) => resolve(String(trailers['grpc-status'])));
      stream.on('close', () => resolve(`stream closed (rst code ${stream.rstCode})`));
      stream.resume();
    });
    stream.end(payload);
    return await Promise.race([
      status,
      new Promise<string>((resolve) => setTimeout(() => resolve('no answer'), callDeadlineMs)),
    ]);
  } finally {
    session.destroy();
  }
}

function grpcFrame(message: Buffer, compressed = false, declaredBytes = message.length): Buffer {
  const prefix = Buffer.alloc(5);
  prefix.writeUInt8(compressed ? 1 : 0, 0);
  prefix.writeUInt32BE(declaredBytes, 1);
  return Buffer.concat([prefix, message]);
}

describe('bad input on the internal gRPC listener (three node processes)', () => {
  it("refuses a message above the listener's receive limit, however it is sent, and stays up", async () => {
    // What grpc-js is configured with (grpc/protos.ts): the length prefix is checked before the body
    // is read, so even a prefix claiming 4 GiB costs the node nothing.
    expect(receiveMessageBytesMax).toBe(128 * 1024 * 1024);
    const deliver = methods.find((method) => method.name === 'Deliver')!;
    // A real envelope just above the limit: a fetch response with one entry of 128 MiB.
    const huge = Buffer.from(
      deliver.requestType
        .encode({
          clusterId: cluster.clusterId,
          from: 2,
          to: 1,
          fetchResponse: {
            epoch: 1,
            entries: [{ offset: 0, epoch: 1, type: 1, payload: Buffer.alloc(receiveMessageBytesMax) }],
          },
        })
        .finish(),
    );
    expect(huge.length).toBeGreaterThan(receiveMessageBytesMax);
    const refused = await rawCall(1, deliver.path, huge, 60_000);
    expect(refused.error?.code, refused.error?.details).toBe(grpc.status.RESOURCE_EXHAUSTED);
    for (const method of methods) {
      const status = await handFramedCall(2, method.path, grpcFrame(Buffer.alloc(1024), false, 0xffffffff));
      expect(status, method.path).toBe(String(grpc.status.RESOURCE_EXHAUSTED));
    }
    expect(aliveNodes()).toEqual(voterIds);
  });

  it('answers bad gRPC framing over valid HTTP/2 with an error status', async () => {
    const describeMetadataPath = methods.find((method) => method.name === 'DescribeMetadata')!.path;
    const request = grpcFrame(Buffer.alloc(0));
    const cases: [string, Promise<string>, string | null][] = [
      [
        'unknown method',
        handFramedCall(1, '/gregor.controller.Controller/NoSuchMethod', request),
        String(grpc.status.UNIMPLEMENTED),
      ],
      [
        'unknown service',
        handFramedCall(2, '/no.such.Service/Call', request),
        String(grpc.status.UNIMPLEMENTED),
      ],
      [
        'compressed flag without an encoding',
        handFramedCall(3, describeMetadataPath, grpcFrame(Buffer.from([0x0a, 0x00]), true)),
        null,
      ],
      [
        'a message cut short',
        handFramedCall(1, describeMetadataPath, grpcFrame(Buffer.alloc(3), false, 40)),
        null,
      ],
      ['a length prefix cut short', handFramedCall(2, describeMetadataPath, Buffer.from([0, 0, 0])), null],
      [
        'two messages on a unary call',
        handFramedCall(3, describeMetadataPath, Buffer.concat([request, request])),
        null,
      ],
    ];
    const answers: Record<string, string> = {};
    for (const [what, answer, expected] of cases) {
      const status = await answer;
      answers[what] = status;
      // Each gets an answer: a grpc-status, or its stream reset; never silence.
      expect(status, what).not.toBe('no answer');
      if (expected !== null) expect(status, what).toBe(expected);
    }
    console.log(`grpc framing: ${JSON.stringify(answers)}`);
    expect(aliveNodes()).toEqual(voterIds);
  });

  it(`refuses every call from another cluster or a non-voter, serves admin calls, and changes nothing else, over ${callsMin} fuzzed calls (seed ${fuzzSeed})`, async () => {
    await createTopic(canaryTopic);
    await roundTrip(canaryTopic, 0);
    const before = await settledImage();
    const existingTopics = [...before.topics.keys()];
    expect(existingTopics).toContain(canaryTopic);

    const outcomes = new GrpcFuzzOutcomes();
    let rawConnections = 0;
    let canaryChecks = 0;
    let failure: unknown;
    const generatorFor = (lane: number) =>
      new GrpcFuzzGenerator({
        seed: (fuzzSeed + lane * 0x9e3779b9) >>> 0,
        root,
        clusterId: cluster.clusterId,
        voterIds,
        existingTopics,
      });

    const runCallLane = async (lane: number) => {
      const generator = generatorFor(lane);
      while (outcomes.calls < callsMin && failure === undefined) {
        const call = generator.nextCall();
        const nodeId = voterIds[generator.below(voterIds.length)]!;
        const result = await rawCall(nodeId, call.method.path, call.body);
        const problem = judgeCall(call, result, outcomes);
        if (problem === null) outcomes.count(call, 'ok');
        else outcomes.violation(`node ${nodeId}: ${problem}`, call);
      }
    };

    const runRawLane = async (lane: number) => {
      const generator = generatorFor(1000 + lane);
      while (outcomes.calls < callsMin && failure === undefined) {
        if (rawConnections * callsPerRawConnection > outcomes.calls) {
          await new Promise((resolve) => setTimeout(resolve, 5));
          continue;
        }
        rawConnections++;
        const raw = generator.nextRawHttp2();
        const nodeId = voterIds[generator.below(voterIds.length)]!;
        const outcome = await rawConnection(nodeId, raw.bytes);
        if (outcome === 'closed') outcomes.rawClosedByNode++;
        else outcomes.rawLeftOpen++;
        rawKinds.set(`${raw.kind} ${outcome}`, (rawKinds.get(`${raw.kind} ${outcome}`) ?? 0) + 1);
      }
    };
    const rawKinds = new Map<string, number>();

    const runCanary = async () => {
      while (outcomes.calls < callsMin && failure === undefined) {
        canaryChecks++;
        await roundTrip(canaryTopic, canaryChecks);
        while (
          outcomes.calls < canaryChecks * canaryEveryCalls &&
          outcomes.calls < callsMin &&
          failure === undefined
        )
          await new Promise((resolve) => setTimeout(resolve, 5));
      }
    };

    const runWatchdog = async () => {
      while (outcomes.calls < callsMin && failure === undefined) {
        if (aliveNodes().length !== voterIds.length) throw new Error(`a node exited: alive ${aliveNodes()}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    };

    const guard = (run: () => Promise<void>) =>
      run().catch((error: unknown) => {
        failure ??= error;
      });
    await Promise.all([
      guard(runCanary),
      guard(runWatchdog),
      ...Array.from({ length: callLanes }, (_, lane) => guard(() => runCallLane(lane))),
      ...Array.from({ length: rawLanes }, (_, lane) => guard(() => runRawLane(lane))),
    ]);
    const summary = outcomes.summary();
    if (failure !== undefined)
      throw new Error(`GRPC_FUZZ_SEED=${fuzzSeed}: ${String(failure)}\n${summary}\n${cluster.tail()}`);
    console.log(
      `grpc fuzz: ${summary}, raw connections ${rawConnections} ${JSON.stringify(Object.fromEntries(rawKinds))}, ` +
        `canary checks ${canaryChecks}\n  by call: ${JSON.stringify(Object.fromEntries([...outcomes.byCall].sort()))}`,
    );
    expect(
      outcomes.violations,
      `GRPC_FUZZ_SEED=${fuzzSeed} violations:\n  ${outcomes.violationDetails.join('\n  ')}\n${summary}`,
    ).toBe(0);
    expect(aliveNodes(), cluster.tail()).toEqual(voterIds);
    // The oracle saw every side.
    expect(outcomes.served).toBeGreaterThan(callsMin / 20);
    expect(outcomes.refused).toBeGreaterThan(callsMin / 5);
    expect(outcomes.undecodable).toBeGreaterThan(callsMin / 50);

    // The metadata: what existed is as it was; new topics are only the fuzzer's admin creations.
    const after = await settledImage();
    expect(heldStill(after, existingTopics)).toEqual(heldStill(before, existingTopics));
    const added = [...after.topics.keys()].filter((name) => !before.topics.has(name));
    for (const name of added) {
      expect(
        outcomes.createdTopics.has(name),
        `topic ${name} appeared without a successful CreateTopics`,
      ).toBe(true);
      expect(fuzzTopicNames).toContain(name);
    }
    // And a well-behaved client still produces and consumes, on the old topic and on a new one.
    await roundTrip(canaryTopic, canaryChecks + 1);
    await createTopic('grpc-fuzz-after');
    await roundTrip('grpc-fuzz-after', 0);
  });
});

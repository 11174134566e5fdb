// Bad input against a real broker process: at least 100,000 generated frames (testing/fuzz-frames.ts:
// random, truncated, oversized, version-mismatched and mutated captured frames, every API alike)
// over a handful of raw sockets, while one well-behaved client keeps producing and fetching on its
// own connection. Each frame is classified before it is sent (fuzz-frames.ts `expected`), and the
// oracle holds the broker to it:
//   - a well-formed request is answered, in order, with its correlation id and a response that
//     decodes at the version asked for (within windowWaitMsMax: the waits a request may ask for are
//     capped at fuzzRequestWaitMsMax, so no request is excused);
//   - a malformed frame closes that connection, after every request before it on it was answered;
//   - a Produce with acks=0 gets no answer (the connection is closed instead if the write failed);
//   - the well-behaved client never fails and the process is alive at the end.
// Anything else is a violation; the outcomes are counted and printed, and any violation fails the
// test. Also: a batch with a bad CRC is refused and nothing of it (nor of a good batch in the same
// request) reaches the log.
//
// Replay a failure with FUZZ_SEED=<seed printed in the failure> npx vitest run --project integration <this file>;
// FUZZ_CASES=<n> runs longer (the default keeps CI near 20 s).

import { once } from 'node:events';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { KafkaConnection } from '@gregor/client';
import {
  ApiKey,
  CompressionType,
  decodeRecordBatch,
  decodeResponse,
  ErrorCode,
  encodeRecordBatch,
  encodeRequest,
  iterateBatches,
  type SupportedApiKey,
} from '@gregor/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type FuzzCase,
  type FuzzCaseKind,
  FuzzFrameGenerator,
  fuzzRequestWaitMsMax,
  stampCorrelationId,
} from '../testing/fuzz-frames.js';
import { fetchPartitionZero, producePartitionZero } from '../testing/partition-zero-calls.js';
import { ProcessCluster } from '../testing/process-cluster.js';

const fuzzSeed = Number(process.env.FUZZ_SEED ?? 0x6a09e667);
const fuzzCasesMin = Number(process.env.FUZZ_CASES ?? 100_000);
/** Raw sockets sending fuzz cases at the same time. */
const fuzzLanes = 8;
/** Well-formed requests pipelined in one window before its sentinel, at most. */
const windowCasesMax = 8;
/** The well-behaved client checks in after this many more cases were resolved. */
const canaryEveryCases = 300;
/**
 * How long a window may stay unresolved (neither every answer in nor the connection closed). No
 * request may ask for more than fuzzRequestWaitMsMax, so this is processing time under load, not a
 * long poll: past it, the broker is hung on that connection, a violation.
 */
const windowWaitMsMax = 3_000;
/** Sessions the fuzzer's JoinGroups may ask for: from here up to fuzzRequestWaitMsMax are accepted. */
const groupSessionTimeoutMsMin = 10;
/** Violations kept in full for the failure message (all are counted). */
const violationsShownMax = 20;
const requestMaxBytes = 4 * 1024 * 1024;
const messageMaxBytes = 1_048_588;
/** A response above this is a broker bug here: nothing the fuzzer asks for is that large. */
const responseBytesMax = 16 * 1024 * 1024;
const canaryTopic = 'fuzz-canary';
const callTimeoutMs = 10_000;
/**
 * The topic created after the storm is applied after whatever the storm's admin requests left the
 * broker applying: partition counts are not capped (up to the controller's 10,000 per topic), and a
 * loaded two-core machine took 25 s to open the logs of a fuzzed topic of 2,800 partitions, which
 * a 10 s wait for the next topic ran into.
 */
const afterStormCreateTimeoutMs = 120_000;

const fixturesDir = new URL('../../../protocol/test-fixtures/', import.meta.url);
const capturedFrames = readdirSync(fixturesDir)
  .filter((name) => name.endsWith('.hex'))
  .sort()
  .map((name) => Buffer.from(readFileSync(new URL(name, fixturesDir), 'utf8').trim(), 'hex'));

let cluster: ProcessCluster;
let port: number;
const logLevelBefore = process.env.GREGOR_IT_LOG_LEVEL;

beforeAll(async () => {
  // Each refused connection is a warning; 100,000 of them would only slow the broker down.
  process.env.GREGOR_IT_LOG_LEVEL = 'error';
  cluster = await ProcessCluster.start({
    nodeCount: 1,
    properties: {
      // Mutated Metadata and Produce frames would otherwise create thousands of random topics.
      'auto.create.topics.enable': 'false',
      'socket.request.max.bytes': String(requestMaxBytes),
      'message.max.bytes': String(messageMaxBytes),
      // A group's first JoinGroup otherwise waits 3 s for more members to come.
      'group.initial.rebalance.delay.ms': '0',
      // The fuzzer's JoinGroups ask for sessions of at most fuzzRequestWaitMsMax (their v0 rebalance
      // timeout too): let the short ones join, so the join and sync paths are fuzzed, not only refused.
      'group.min.session.timeout.ms': String(groupSessionTimeoutMsMin),
      // One broker: the group coordinator's log has one replica, in one partition.
      'offsets.topic.replication.factor': '1',
      'offsets.topic.num.partitions': '1',
    },
  });
  port = cluster.node(1).kafkaPort;
});

afterAll(async () => {
  if (logLevelBefore === undefined) delete process.env.GREGOR_IT_LOG_LEVEL;
  else process.env.GREGOR_IT_LOG_LEVEL = logLevelBefore;
  await cluster?.close();
});

function brokerAlive(): boolean {
  const child = cluster.node(1).process;
  return child !== undefined && child.exitCode === null && child.signalCode === null;
}

async function createTopic(
  connection: KafkaConnection,
  name: string,
  timeoutMs = callTimeoutMs,
): Promise<void> {
  const created = await connection.call(
    ApiKey.CreateTopics,
    4,
    {
      topics: [{ name, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }],
      timeoutMs,
      validateOnly: false,
    },
    timeoutMs,
  );
  expect(created.topics[0]?.errorCode).toBe(ErrorCode.NONE);
}

function produce(connection: KafkaConnection, topic: string, records: Buffer) {
  return producePartitionZero(connection, topic, records, callTimeoutMs, callTimeoutMs);
}

function fetchFrom(connection: KafkaConnection, topic: string, offset: number) {
  return fetchPartitionZero(connection, topic, offset, 1024 * 1024, callTimeoutMs);
}

/** Metadata + Produce + Fetch on the well-behaved connection; throws on anything unexpected. */
async function canaryRoundTrip(connection: KafkaConnection, sequence: number): Promise<void> {
  const metadata = await connection.call(
    ApiKey.Metadata,
    9,
    {
      topics: [{ name: canaryTopic }],
      allowAutoTopicCreation: false,
      includeClusterAuthorizedOperations: false,
      includeTopicAuthorizedOperations: false,
    },
    callTimeoutMs,
  );
  const topic = metadata.topics[0];
  if (topic?.errorCode !== ErrorCode.NONE || topic.partitions[0]?.leaderId !== 1)
    throw new Error(`canary ${sequence}: metadata ${JSON.stringify(topic)}`);
  const value = Buffer.from(`canary-${sequence}`);
  const produced = await produce(
    connection,
    canaryTopic,
    encodeRecordBatch({ records: [{ key: null, value, timestamp: 1_700_000_000_000 + sequence }] }),
  );
  if (produced.errorCode !== ErrorCode.NONE || produced.baseOffset !== BigInt(sequence))
    throw new Error(`canary ${sequence}: produce ${JSON.stringify(produced, bigintJson)}`);
  const fetched = await fetchFrom(connection, canaryTopic, sequence);
  const records =
    fetched.records === null ? [] : [...iterateBatches(fetched.records)].flatMap((b) => b.records);
  if (fetched.errorCode !== ErrorCode.NONE || records[0]?.value?.equals(value) !== true)
    throw new Error(`canary ${sequence}: fetch error ${fetched.errorCode}, ${records.length} record(s)`);
}

function bigintJson(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}

/** An answer a raw socket is owed; answers are owed in request order. */
interface OwedAnswer {
  readonly correlationId: number;
  readonly apiKey: SupportedApiKey;
  readonly responseVersion: number;
  /** The case it answers; undefined for the window's sentinel. */
  readonly fuzzCase: FuzzCase | undefined;
}

/** One raw client connection, checking every response against the answer it is owed. */
class FuzzSocket {
  private buffer: Buffer = Buffer.alloc(0);
  /** Owed answers, oldest first. */
  readonly owed: OwedAnswer[] = [];
  closed = false;
  /** The first response that was not the answer owed next (the socket is then dropped). */
  problem: string | undefined;
  private waiter: (() => void) | undefined;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    // Writes after the broker closed fail with EPIPE/ECONNRESET: a close, judged by the window.
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  static async open(): Promise<FuzzSocket> {
    const socket = connect({ host: '127.0.0.1', port, noDelay: true });
    await once(socket, 'connect');
    return new FuzzSocket(socket);
  }

  private onData(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    while (this.buffer.length >= 4 && this.problem === undefined) {
      const size = this.buffer.readInt32BE(0);
      if (size < 4 || size > responseBytesMax) {
        this.fail(`a response frame of ${size} bytes`);
        break;
      }
      if (this.buffer.length < 4 + size) break;
      const frame = this.buffer.subarray(4, 4 + size);
      this.buffer = this.buffer.subarray(4 + size);
      this.check(frame);
    }
    this.wake();
  }

  private check(frame: Buffer): void {
    const correlationId = frame.readInt32BE(0);
    const owed = this.owed.shift();
    if (owed === undefined) {
      this.fail(`a response (correlation id ${correlationId}) when none was owed`);
      return;
    }
    const what = `${owed.fuzzCase?.kind ?? 'sentinel'} api ${owed.apiKey} v${owed.responseVersion}`;
    if (correlationId !== owed.correlationId) {
      this.fail(
        `response with correlation id ${correlationId} where ${owed.correlationId} (${what}) was owed`,
      );
      return;
    }
    const decoded = decodeResponse(owed.apiKey, owed.responseVersion, frame);
    if (!decoded.ok) {
      this.fail(`the response to ${what} does not decode: ${decoded.message}`);
      return;
    }
    if (owed.fuzzCase?.kind === 'oversized-batch') {
      const produced = decoded.body as { responses: { partitions: { errorCode: number }[] }[] };
      const errorCode = produced.responses[0]?.partitions[0]?.errorCode;
      if (errorCode !== ErrorCode.MESSAGE_TOO_LARGE)
        this.fail(`a batch above message.max.bytes was answered with error ${errorCode}`);
    }
  }

  private fail(problem: string): void {
    this.problem ??= problem;
    this.drop();
  }

  /** Ends this connection from the client's side, at once. */
  drop(): void {
    this.closed = true;
    this.socket.destroy();
    this.wake();
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }

  /** Resolves true once `done()` holds or the socket closed; false if `waitMs` passed first. */
  async waitFor(done: () => boolean, waitMs: number): Promise<boolean> {
    const deadline = Date.now() + waitMs;
    while (!done() && !this.closed) {
      const remainingMs = deadline - Date.now();
      if (remainingMs <= 0) return false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remainingMs);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return true;
  }
}

function sentinelFrame(correlationId: number): Buffer {
  return encodeRequest(ApiKey.ApiVersions, 0, correlationId, 'fuzz-sentinel', {}, { sizePrefix: true });
}

/** How the cases of one kind ended. */
interface KindOutcomes {
  answered: number;
  closed: number;
  unanswered: number;
  violations: number;
}

/** Every case ends in exactly one of these. */
class FuzzOutcomes {
  /** Well-formed requests answered in order with a response that decodes. */
  answeredWellFormed = 0;
  /** Malformed frames the broker closed the connection on, after answering what came before. */
  closedMalformed = 0;
  /** Produce requests with acks=0 taken without an answer (the connection carrying on). */
  acksZeroUnanswered = 0;
  /** Produce requests with acks=0 whose write failed, so the broker closed the connection (Kafka's rule). */
  acksZeroClosed = 0;
  violations = 0;
  readonly violationDetails: string[] = [];
  readonly byKind = new Map<FuzzCaseKind, KindOutcomes>();

  get resolved(): number {
    return (
      this.answeredWellFormed +
      this.closedMalformed +
      this.acksZeroUnanswered +
      this.acksZeroClosed +
      this.violations
    );
  }

  count(fuzzCase: FuzzCase, outcome: keyof KindOutcomes): void {
    let kind = this.byKind.get(fuzzCase.kind);
    if (kind === undefined) {
      kind = { answered: 0, closed: 0, unanswered: 0, violations: 0 };
      this.byKind.set(fuzzCase.kind, kind);
    }
    kind[outcome]++;
  }

  violation(cases: readonly FuzzCase[], window: readonly FuzzCase[], what: string): void {
    this.violations += cases.length;
    for (const fuzzCase of cases) this.count(fuzzCase, 'violations');
    if (this.violationDetails.length < violationsShownMax) {
      const sent = window.map((fuzzCase) => `${fuzzCase.kind}:${fuzzCase.bytes.toString('hex')}`);
      this.violationDetails.push(`${what}\n    window: ${sent.join(' ')}`);
    }
  }

  summary(): string {
    return JSON.stringify({
      seed: fuzzSeed,
      resolved: this.resolved,
      answeredWellFormed: this.answeredWellFormed,
      closedMalformed: this.closedMalformed,
      acksZeroUnanswered: this.acksZeroUnanswered,
      acksZeroClosed: this.acksZeroClosed,
      violations: this.violations,
      byKind: Object.fromEntries(this.byKind),
    });
  }
}

describe('bad input (one broker process)', () => {
  it("answers a JoinGroup and SyncGroup asking for the fuzzer's short timeouts", async () => {
    // What a well-formed JoinGroup from the fuzzer gets: its session (capped at fuzzRequestWaitMsMax)
    // is within group.min/max.session.timeout.ms, so it joins; a shorter one is refused at once.
    const connection = await KafkaConnection.open({ host: '127.0.0.1', port, clientId: 'group-check' });
    const groupId = 'fuzz-group-check';
    for (;;) {
      // The first FindCoordinator creates __consumer_offsets; the coordinator is ready once it answers.
      const found = await connection.call(ApiKey.FindCoordinator, 2, { key: groupId, keyType: 0 });
      if (found.errorCode === ErrorCode.NONE) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const join = (memberId: string, sessionTimeoutMs: number) =>
      connection.call(
        ApiKey.JoinGroup,
        5,
        {
          groupId,
          sessionTimeoutMs,
          rebalanceTimeoutMs: fuzzRequestWaitMsMax,
          memberId,
          groupInstanceId: null,
          protocolType: 'consumer',
          protocols: [{ name: 'range', metadata: Buffer.alloc(0) }],
        },
        callTimeoutMs,
      );
    expect((await join('', groupSessionTimeoutMsMin - 1)).errorCode).toBe(ErrorCode.INVALID_SESSION_TIMEOUT);
    const first = await join('', fuzzRequestWaitMsMax);
    expect(first.errorCode).toBe(ErrorCode.MEMBER_ID_REQUIRED);
    const joined = await join(first.memberId, fuzzRequestWaitMsMax);
    expect(joined).toMatchObject({ errorCode: ErrorCode.NONE, leader: first.memberId, generationId: 1 });
    const synced = await connection.call(
      ApiKey.SyncGroup,
      3,
      {
        groupId,
        generationId: joined.generationId,
        memberId: first.memberId,
        groupInstanceId: null,
        assignments: [{ memberId: first.memberId, assignment: Buffer.from('all') }],
      },
      callTimeoutMs,
    );
    expect(synced).toMatchObject({ errorCode: ErrorCode.NONE, assignment: Buffer.from('all') });
    connection.close();
  });

  it(`answers every well-formed request and closes on every malformed frame, over ${fuzzCasesMin} fuzzed frames, and keeps serving a good client (seed ${fuzzSeed})`, async () => {
    const good = await KafkaConnection.open({ host: '127.0.0.1', port, clientId: 'well-behaved' });
    await createTopic(good, canaryTopic);
    const versions = await good.call(ApiKey.ApiVersions, 3, {
      clientSoftwareName: 'fuzz',
      clientSoftwareVersion: '1',
    });
    // One generator per lane, so what each lane sends does not depend on how the lanes interleave.
    const generatorFor = (lane: number) =>
      new FuzzFrameGenerator({
        seed: (fuzzSeed + lane * 0x9e3779b9) >>> 0,
        capturedFrames,
        servedApis: versions.apiKeys,
        frameMaxBytes: requestMaxBytes,
        messageMaxBytes,
        oversizedBatchTopic: canaryTopic,
      });

    const outcomes = new FuzzOutcomes();
    let windows = 0;
    let connections = 0;
    let canaryChecks = 0;
    let failure: unknown;

    /** Sends one window on `fuzzSocket` and judges what the broker did with it. */
    const runWindow = async (fuzzSocket: FuzzSocket, window: FuzzCase[], nextId: () => number) => {
      for (const fuzzCase of window) {
        const correlationId = nextId();
        const stamped = stampCorrelationId(fuzzCase, correlationId);
        if (fuzzCase.expected.kind !== 'answer') continue;
        // A well-formed request always has the header prefix the id is written into.
        if (!stamped) throw new Error(`a well-formed ${fuzzCase.kind} case carries no correlation id`);
        fuzzSocket.owed.push({
          correlationId,
          apiKey: fuzzCase.expected.apiKey,
          responseVersion: fuzzCase.expected.responseVersion,
          fuzzCase,
        });
      }
      const violationsBefore = outcomes.violations;
      const last = window[window.length - 1]!;
      const terminal = last.expected.kind === 'answer' ? undefined : last;
      const bytes = window.map((fuzzCase) => fuzzCase.bytes);
      if (!last.endsStream) {
        const correlationId = nextId();
        bytes.push(sentinelFrame(correlationId));
        fuzzSocket.owed.push({
          correlationId,
          apiKey: ApiKey.ApiVersions,
          responseVersion: 0,
          fuzzCase: undefined,
        });
      }
      windows++;
      fuzzSocket.socket.write(Buffer.concat(bytes));
      if (last.endsStream) fuzzSocket.socket.end();
      const settled = await fuzzSocket.waitFor(
        () => !last.endsStream && fuzzSocket.owed.length === 0,
        windowWaitMsMax,
      );
      const unanswered = new Set(fuzzSocket.owed.flatMap((owed) => owed.fuzzCase ?? []));
      const answered = window.filter(
        (fuzzCase) => fuzzCase.expected.kind === 'answer' && !unanswered.has(fuzzCase),
      );
      outcomes.answeredWellFormed += answered.length;
      for (const fuzzCase of answered) outcomes.count(fuzzCase, 'answered');
      const unresolved = window.filter((fuzzCase) => !answered.includes(fuzzCase));
      if (fuzzSocket.problem !== undefined) {
        outcomes.violation(unresolved, window, fuzzSocket.problem);
      } else if (!settled) {
        outcomes.violation(unresolved, window, `neither answered nor closed within ${windowWaitMsMax} ms`);
      } else if (fuzzSocket.closed) {
        const [firstUnanswered] = unanswered;
        if (firstUnanswered !== undefined) {
          outcomes.violation(
            unresolved,
            window,
            `closed before answering a well-formed ${firstUnanswered.kind}`,
          );
        } else if (terminal === undefined) {
          outcomes.violation(unresolved, window, 'closed after well-formed requests only');
        } else if (terminal.expected.kind === 'close') {
          outcomes.closedMalformed++;
          outcomes.count(terminal, 'closed');
        } else {
          outcomes.acksZeroClosed++;
          outcomes.count(terminal, 'closed');
        }
      } else if (terminal?.expected.kind === 'close') {
        outcomes.violation(
          unresolved,
          window,
          `answered the sentinel after a malformed ${terminal.kind} (${terminal.expected.reason}) instead of closing`,
        );
      } else if (terminal !== undefined) {
        outcomes.acksZeroUnanswered++;
        outcomes.count(terminal, 'unanswered');
      }
      // After a violation the stream's state is unknown: start over on a new connection.
      if (outcomes.violations > violationsBefore) fuzzSocket.drop();
    };

    const runLane = async (lane: number): Promise<void> => {
      const generator = generatorFor(lane);
      // A case that ends the stream goes in a window of its own, after the requests before it were
      // answered: a client that ends its stream has stopped reading answers.
      let heldBack: FuzzCase | undefined;
      while (outcomes.resolved < fuzzCasesMin && failure === undefined) {
        if (!brokerAlive()) throw new Error('the broker process exited');
        const fuzzSocket = await FuzzSocket.open();
        connections++;
        let nextCorrelationId = 1;
        const nextId = () => nextCorrelationId++;
        while (!fuzzSocket.closed && outcomes.resolved < fuzzCasesMin) {
          // A window: well-formed requests, ended by the first case that is not one (or by a full window).
          const window: FuzzCase[] = [];
          if (heldBack !== undefined) {
            window.push(heldBack);
            heldBack = undefined;
          }
          while (
            window.length < windowCasesMax &&
            window.at(-1)?.expected.kind !== 'close' &&
            window.at(-1)?.expected.kind !== 'unanswered-produce'
          ) {
            const fuzzCase = generator.next();
            if (fuzzCase.endsStream && window.length > 0) {
              heldBack = fuzzCase;
              break;
            }
            window.push(fuzzCase);
          }
          await runWindow(fuzzSocket, window, nextId);
        }
        fuzzSocket.drop();
      }
    };

    const runCanary = async (): Promise<void> => {
      while (outcomes.resolved < fuzzCasesMin && failure === undefined) {
        await canaryRoundTrip(good, canaryChecks);
        canaryChecks++;
        while (
          outcomes.resolved < canaryChecks * canaryEveryCases &&
          outcomes.resolved < fuzzCasesMin &&
          failure === undefined
        )
          await new Promise((resolve) => setTimeout(resolve, 2));
      }
    };

    const guard = (run: () => Promise<void>) =>
      run().catch((error: unknown) => {
        failure ??= error;
      });
    await Promise.all([
      guard(runCanary),
      ...Array.from({ length: fuzzLanes }, (_, lane) => guard(() => runLane(lane))),
    ]);
    const summary = outcomes.summary();
    if (failure !== undefined)
      throw new Error(`FUZZ_SEED=${fuzzSeed}: ${String(failure)}\n${summary}\n${cluster.tail()}`);
    // What the fuzzed admin requests left behind (they are obeyed like any client's).
    const topics = (
      await good.call(
        ApiKey.Metadata,
        9,
        {
          topics: null,
          allowAutoTopicCreation: false,
          includeClusterAuthorizedOperations: false,
          includeTopicAuthorizedOperations: false,
        },
        callTimeoutMs,
      )
    ).topics;
    const partitions = topics.reduce((sum, topic) => sum + topic.partitions.length, 0);
    console.log(
      `fuzz: ${summary}, windows ${windows}, connections ${connections}, canary checks ${canaryChecks}, ` +
        `topics afterwards ${topics.length} with ${partitions} partitions`,
    );

    expect(
      outcomes.violations,
      `FUZZ_SEED=${fuzzSeed} violations:\n  ${outcomes.violationDetails.join('\n  ')}\n${summary}`,
    ).toBe(0);
    expect(outcomes.resolved).toBeGreaterThanOrEqual(fuzzCasesMin);
    // The oracle saw both sides: well-formed requests answered and malformed frames closed on.
    expect(outcomes.answeredWellFormed).toBeGreaterThan(fuzzCasesMin / 10);
    expect(outcomes.closedMalformed).toBeGreaterThan(fuzzCasesMin / 10);
    expect(canaryChecks).toBeGreaterThanOrEqual(Math.floor(fuzzCasesMin / canaryEveryCases));
    expect(brokerAlive(), cluster.tail()).toBe(true);
    // One last round trip after the storm, on the same connection; and the broker still keeps up
    // with its metadata: a topic created now is served once what the storm created is applied.
    await canaryRoundTrip(good, canaryChecks);
    const afterStorm = 'fuzz-after-storm';
    await createTopic(good, afterStorm, afterStormCreateTimeoutMs);
    const value = Buffer.from('after the storm');
    const produced = await produce(
      good,
      afterStorm,
      encodeRecordBatch({ records: [{ key: null, value, timestamp: 1_700_000_000_000 }] }),
    );
    expect(produced.errorCode).toBe(ErrorCode.NONE);
    const fetched = await fetchFrom(good, afterStorm, 0);
    expect(decodeRecordBatch(fetched.records!).records[0]?.value).toEqual(value);
    good.close();
    // 100,000 frames take 60-180 s on the two cores (longer with other work on them), and the topic
    // after the storm may wait for a large fuzzed creation to be applied: more than the default.
  }, 360_000);

  it('refuses a batch with a bad CRC and stores nothing of it, nor of the good batch sent with it', async () => {
    const connection = await KafkaConnection.open({ host: '127.0.0.1', port, clientId: 'crc-check' });
    const topic = 'crc-check';
    await createTopic(connection, topic);
    const first = encodeRecordBatch({
      compression: CompressionType.Gzip,
      records: [{ key: Buffer.from('k'), value: Buffer.from('kept'), timestamp: 1_700_000_000_000 }],
    });
    expect((await produce(connection, topic, first)).errorCode).toBe(ErrorCode.NONE);
    const logFile = join(cluster.node(1).dataDir, 'logs', `${topic}-0`, '00000000000000000000.log');
    const sizeBefore = statSync(logFile).size;
    expect(sizeBefore).toBe(first.length);

    const second = encodeRecordBatch({
      records: [
        { key: Buffer.from('k'), value: Buffer.from('refused'), timestamp: 1_700_000_000_001 },
        { key: null, value: Buffer.from('refused too'), timestamp: 1_700_000_000_002 },
      ],
    });
    const badCrc = Buffer.from(second);
    badCrc[badCrc.length - 1] = badCrc[badCrc.length - 1]! ^ 0x01;
    const rejected = await produce(connection, topic, badCrc);
    expect(rejected.errorCode).toBe(ErrorCode.CORRUPT_MESSAGE);

    // Two batches in one request, the second corrupt: the whole partition's write is refused.
    const pair = Buffer.concat([second, badCrc]);
    expect((await produce(connection, topic, pair)).errorCode).toBe(ErrorCode.CORRUPT_MESSAGE);

    expect(statSync(logFile).size).toBe(sizeBefore);
    const fetched = await fetchFrom(connection, topic, 0);
    expect(fetched.highWatermark).toBe(1n);
    const stored = [...iterateBatches(readFileSync(logFile))];
    expect(stored).toHaveLength(1);
    expect(stored[0]!.records.map((record) => record.value?.toString())).toEqual(['kept']);
    expect(decodeRecordBatch(fetched.records!).records[0]?.value?.toString()).toBe('kept');
    connection.close();
  });
});

// The benchmark's producer: Gregor's own minimal client over the real Kafka protocol. Produce v7
// requests carrying record batches built by @gregor/protocol's encodeRecordBatch, pipelined on one
// KafkaConnection per partition leader (acks 1 and all), or written one-way on a plain socket with
// TCP backpressure (acks 0, which gets no response). No compression, null keys, random values.

import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect } from 'node:net';
import { KafkaConnection } from '../../packages/client/dist/index.js';
import {
  ApiKey,
  encodeRecordBatch,
  encodeRequest,
  errorName,
  latestTimestamp,
} from '../../packages/protocol/dist/index.js';

export const produceVersion = 7;
/** The broker's own wait for acks=all replication inside one Produce (Kafka's request.timeout.ms). */
export const produceTimeoutMs = 30_000;
/** Client-side deadline of a request: the broker's timeout plus slack. */
const requestDeadlineMs = produceTimeoutMs + 5_000;

const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

/**
 * One record batch of `recordCount` records with `valueBytes`-byte random values. Sent again and
 * again: the broker assigns offsets, and the CRC does not cover the base offset, so the same bytes
 * are a valid batch every time (timestamps stay those of encoding, seconds old at most).
 */
export function encodeValueBatch(valueBytes, recordCount) {
  const now = Date.now();
  const records = Array.from({ length: recordCount }, () => ({
    key: null,
    value: randomBytes(valueBytes),
    timestamp: now,
  }));
  return encodeRecordBatch({ records });
}

/** @param {string} topic @param {number} acks @param {{ partitionIndex: number, records: Buffer }[]} partitions */
export function produceBody(topic, acks, partitions, timeoutMs = produceTimeoutMs) {
  return { transactionalId: null, acks, timeoutMs, topics: [{ name: topic, partitions }] };
}

/** @param {string} address host:port */
export function openConnection(address, connectTimeoutMs = 2_000) {
  const [host, port] = address.split(':');
  return KafkaConnection.open({ host, port: Number(port), clientId: 'gregor-bench', connectTimeoutMs });
}

/** First partition error of a Produce response, or undefined. */
export function produceError(response) {
  for (const topic of response.responses)
    for (const partition of topic.partitions)
      if (partition.errorCode !== 0) return errorName(partition.errorCode);
  return undefined;
}

/**
 * Metadata v1 for one topic: partitions with leader, replicas and ISR; brokers by id; controller.
 * @param {KafkaConnection} connection
 */
export async function topicMetadata(connection, topic, deadlineMs = 2_000) {
  const metadata = await connection.call(ApiKey.Metadata, 1, { topics: [{ name: topic }] }, deadlineMs);
  const found = metadata.topics.find((candidate) => candidate.name === topic);
  return {
    controllerId: metadata.controllerId,
    brokers: new Map(metadata.brokers.map((broker) => [broker.nodeId, `${broker.host}:${broker.port}`])),
    errorCode: found?.errorCode ?? -1,
    partitions: (found?.partitions ?? [])
      .map((partition) => ({
        partition: partition.partitionIndex,
        leader: partition.leaderId,
        replicas: partition.replicaNodes,
        isr: partition.isrNodes,
      }))
      .sort((a, b) => a.partition - b.partition),
  };
}

/** CreateTopics v3; an existing topic is fine. @param {KafkaConnection} connection */
export async function createTopic(connection, name, partitionCount, replicationFactor, configs = {}) {
  const response = await connection.call(
    ApiKey.CreateTopics,
    3,
    {
      topics: [
        {
          name,
          numPartitions: partitionCount,
          replicationFactor,
          assignments: [],
          configs: Object.entries(configs).map(([key, value]) => ({ name: key, value })),
        },
      ],
      timeoutMs: 10_000,
      validateOnly: false,
    },
    15_000,
  );
  const code = response.topics[0]?.errorCode ?? -1;
  // 36: TOPIC_ALREADY_EXISTS
  if (code !== 0 && code !== 36) throw new Error(`CreateTopics ${name}: ${errorName(code)}`);
}

/**
 * Sum of the latest offsets (the high watermark: what a consumer can read) of `partitions`, each
 * asked of its leader with ListOffsets v1.
 * @param {Map<number, KafkaConnection>} connections by broker id
 * @param {{ partition: number, leader: number }[]} partitions
 */
export async function latestOffsetSum(connections, topic, partitions) {
  const answers = await Promise.all(
    partitions.map(async ({ partition, leader }) => {
      const response = await connections.get(leader).call(
        ApiKey.ListOffsets,
        1,
        {
          replicaId: -1,
          topics: [{ name: topic, partitions: [{ partitionIndex: partition, timestamp: latestTimestamp }] }],
        },
        5_000,
      );
      const answer = response.topics[0].partitions[0];
      if (answer.errorCode !== 0)
        throw new Error(`ListOffsets ${topic}-${partition}: ${errorName(answer.errorCode)}`);
      return Number(answer.offset);
    }),
  );
  return answers.reduce((sum, offset) => sum + offset, 0);
}

/**
 * Groups partitions by leader: one route per leader broker, each request carries one batch for
 * every partition that broker leads (as Kafka's producer does).
 * @param {{ partition: number, leader: number }[]} partitions
 */
export function routesByLeader(partitions) {
  /** @type {Map<number, number[]>} */
  const byLeader = new Map();
  for (const { partition, leader } of partitions) {
    if (!byLeader.has(leader)) byLeader.set(leader, []);
    byLeader.get(leader).push(partition);
  }
  return [...byLeader].map(([leader, indexes]) => ({ leader, partitions: indexes }));
}

/**
 * Closed-loop throughput with acks 1 or all: `inFlightPerConnection` requests in flight to each
 * leader until `durationMs` passed or `bytesMax` value bytes were sent, whichever comes first.
 * Counts only records whose partition answered NONE; the time ends at the last response.
 */
export async function runPipelined({
  connections,
  topic,
  partitions,
  acks,
  batch,
  recordsPerBatch,
  valueBytes,
  durationMs,
  bytesMax,
  inFlightPerConnection,
}) {
  const routes = routesByLeader(partitions);
  let sentValueBytes = 0;
  let ackedRecords = 0;
  let errors = 0;
  let firstError;
  const startMs = performance.now();
  let lastResponseMs = startMs;
  const worker = async (route) => {
    const connection = connections.get(route.leader);
    const body = produceBody(
      topic,
      acks,
      route.partitions.map((partitionIndex) => ({ partitionIndex, records: batch })),
    );
    const requestValueBytes = route.partitions.length * recordsPerBatch * valueBytes;
    while (performance.now() - startMs < durationMs && sentValueBytes < bytesMax) {
      sentValueBytes += requestValueBytes;
      const response = await connection.call(ApiKey.Produce, produceVersion, body, requestDeadlineMs);
      lastResponseMs = performance.now();
      for (const answer of response.responses[0].partitions) {
        if (answer.errorCode === 0) ackedRecords += recordsPerBatch;
        else {
          errors += 1;
          firstError ??= errorName(answer.errorCode);
        }
      }
    }
  };
  await Promise.all(
    routes.flatMap((route) => Array.from({ length: inFlightPerConnection }, () => worker(route))),
  );
  return { records: ackedRecords, elapsedMs: lastResponseMs - startMs, errors, firstError };
}

/**
 * Latest offset (the high watermark: what a consumer can read) of each of `partitions`, asked of
 * its leader with ListOffsets v1; a partition whose leader did not answer NONE (a leader that moved
 * for a moment on a busy machine, a timeout) is `undefined`, with the reason in `errors`.
 * @param {Map<number, KafkaConnection>} connections by broker id
 * @param {{ partition: number, leader: number }[]} partitions
 * @returns {Promise<{ offsets: (number | undefined)[], errors: (string | undefined)[] }>}
 */
export async function latestOffsets(connections, topic, partitions) {
  const answers = await Promise.all(
    partitions.map(({ partition, leader }) =>
      connections
        .get(leader)
        .call(
          ApiKey.ListOffsets,
          1,
          {
            replicaId: -1,
            topics: [
              { name: topic, partitions: [{ partitionIndex: partition, timestamp: latestTimestamp }] },
            ],
          },
          5_000,
        )
        .then(
          (response) => {
            const answer = response.topics[0].partitions[0];
            return answer.errorCode === 0
              ? { offset: Number(answer.offset), error: undefined }
              : { offset: undefined, error: errorName(answer.errorCode) };
          },
          (error) => ({ offset: undefined, error: error.message }),
        ),
    ),
  );
  return { offsets: answers.map((answer) => answer.offset), errors: answers.map((answer) => answer.error) };
}

/**
 * Replaces, in place, each connection of `connections` that was closed (a broker answering Metadata
 * without its leader lease closes the connection, so that a client asks another broker; a broker
 * restarted): the benchmark's connections serve every cell, and one closed would fail every later
 * request to its broker. A broker that does not accept a connection keeps the closed one.
 * @param {Map<number, KafkaConnection>} connections by broker id
 * @param {Map<number, string>} addresses host:port by broker id
 */
export async function reopenClosed(connections, addresses) {
  await Promise.all(
    [...connections]
      .filter(([, connection]) => connection.isClosed)
      .map(async ([id]) => {
        const address = addresses.get(id);
        if (address === undefined) return;
        const reopened = await openConnection(address).catch(() => undefined);
        if (reopened !== undefined) connections.set(id, reopened);
      }),
  );
}

/**
 * Leader and leader epoch of each partition of `topic` (Metadata v7), by partition index: an epoch
 * that changed means leadership moved, if only back to the same broker.
 * @param {KafkaConnection} connection
 * @returns {Promise<Map<number, { leader: number, leaderEpoch: number }>>}
 */
export async function leaderEpochs(connection, topic, deadlineMs = 2_000) {
  const metadata = await connection.call(
    ApiKey.Metadata,
    7,
    { topics: [{ name: topic }], allowAutoTopicCreation: false },
    deadlineMs,
  );
  const found = metadata.topics.find((candidate) => candidate.name === topic);
  return new Map(
    (found?.partitions ?? []).map((partition) => [
      partition.partitionIndex,
      { leader: partition.leaderId, leaderEpoch: partition.leaderEpoch },
    ]),
  );
}

/**
 * A plain socket writing Produce acks=0 frames; the broker answers nothing. It records what it
 * wrote, and whether and when the broker closed it (how Kafka tells an acks=0 producer that a
 * request failed), for the cell to tell a refused request from a silent loss.
 */
export class OneWaySocket {
  /** @param {string} address */
  static async open(address) {
    const [host, port] = address.split(':');
    const socket = connect({ host, port: Number(port), noDelay: true });
    await once(socket, 'connect');
    return new OneWaySocket(socket);
  }

  correlationId = 1;
  closed = false;
  /** Requests handed to the socket (the kernel may not have sent them all when it closed). */
  writtenRequests = 0;
  /** performance.now() when the broker's FIN (or an error) arrived, else undefined. */
  closedByPeerAtMs = undefined;
  /** Bytes still queued in this process, not yet taken by the kernel, when the broker closed. */
  unsentBytesAtClose = undefined;
  /** The socket error, if any (ECONNRESET, EPIPE: writes after the broker closed). */
  error = undefined;
  /** We closed it ourselves (the cell is over): a close after this is not the broker's. */
  closing = false;

  /** @param {import('node:net').Socket} socket */
  constructor(socket) {
    this.socket = socket;
    const closedByPeer = () => {
      if (this.closing || this.closedByPeerAtMs !== undefined) return;
      this.closedByPeerAtMs = performance.now();
      this.unsentBytesAtClose = socket.writableLength;
    };
    socket.on('data', () => {}); // nothing is expected; a failed acks=0 produce closes the socket
    socket.on('end', closedByPeer);
    socket.on('error', (error) => {
      this.error ??= error.code ?? error.message;
      closedByPeer();
    });
    socket.on('close', () => {
      closedByPeer();
      this.closed = true;
    });
  }

  /**
   * Writes one request; resolves once the socket buffer has room again (TCP backpressure). False
   * when the socket was already closed, so nothing was written.
   */
  async send(body) {
    const frame = encodeRequest(ApiKey.Produce, produceVersion, this.correlationId++, 'gregor-bench', body, {
      sizePrefix: true,
    });
    // Kafka closes the connection of a failed acks=0 produce (e.g. the leader moved): the cell then
    // reports the records that never became readable.
    if (this.closed || this.closedByPeerAtMs !== undefined) return false;
    this.writtenRequests += 1;
    if (!this.socket.write(frame)) {
      await new Promise((resolve) => {
        const done = () => {
          this.socket.off('drain', done);
          this.socket.off('close', done);
          resolve();
        };
        this.socket.on('drain', done);
        this.socket.on('close', done);
      });
    }
    return true;
  }

  /** Whether the broker closed this connection (before we did). */
  get closedByBroker() {
    return this.closedByPeerAtMs !== undefined;
  }

  close() {
    this.closing = true;
    this.socket.destroy();
  }
}

/** Poll interval of the acks=0 confirmation (ListOffsets until every record is there). */
const confirmPollMs = 10;
const confirmTimeoutMs = 120_000;
/**
 * With a connection the broker closed, some records will never come: the wait ends once every
 * partition answered and none grew for this long (a broker fenced for a moment has its partitions
 * back well within it), instead of running out the whole timeout.
 */
const confirmSettledMs = 5_000;

/**
 * acks=0 throughput: write until `durationMs` or `bytesMax` with only TCP backpressure, then poll
 * ListOffsets until the records are all readable (high watermark). The time ends there, so it is
 * the rate at which records became readable, not the rate at which the client wrote them.
 *
 * Records that never became readable are reported per partition, with whether the broker closed
 * the connection that carried them (acks=0's only failure signal, as in Kafka: those records are
 * lost by the protocol's design) or kept it open (`silent`: a broker that dropped records it took).
 */
export async function runAcksZero({
  connections,
  addresses,
  topic,
  partitions,
  batch,
  recordsPerBatch,
  valueBytes,
  durationMs,
  bytesMax,
}) {
  const routes = routesByLeader(partitions);
  /** A connection still open, preferring brokers whose last ListOffsets answered. */
  let answeredBrokers = new Set();
  const anyConnection = () => {
    const open = [...connections].filter(([, connection]) => !connection.isClosed);
    return (open.find(([id]) => answeredBrokers.has(id)) ?? open[0] ?? [...connections][0])[1];
  };
  const epochsBefore = await leaderEpochs(anyConnection(), topic).catch(() => new Map());
  const sockets = await Promise.all(routes.map((route) => OneWaySocket.open(addresses.get(route.leader))));
  let sentValueBytes = 0;
  const startMs = performance.now();
  await Promise.all(
    routes.map(async (route, index) => {
      const body = produceBody(
        topic,
        0,
        route.partitions.map((partitionIndex) => ({ partitionIndex, records: batch })),
      );
      const requestRecords = route.partitions.length * recordsPerBatch;
      while (performance.now() - startMs < durationMs && sentValueBytes < bytesMax) {
        if (!(await sockets[index].send(body))) break;
        sentValueBytes += requestRecords * valueBytes;
      }
    }),
  );
  const sendEndMs = performance.now();
  /** Records written for each of `partitions`, in their order. */
  const sentByPartition = partitions.map(({ partition }) => {
    const index = routes.findIndex((route) => route.partitions.includes(partition));
    return sockets[index].writtenRequests * recordsPerBatch;
  });
  const sentRecords = sentByPartition.reduce((sum, records) => sum + records, 0);
  /** @type {(number | undefined)[]} */
  let offsets = partitions.map(() => undefined);
  /** @type {(string | undefined)[]} */
  let offsetErrors = partitions.map(() => undefined);
  const readableOf = () => offsets.reduce((sum, offset) => sum + (offset ?? 0), 0);
  /** Where to ask each partition: its leader now (it may move while this waits). */
  const askAt = partitions.map(({ partition, leader }) => ({ partition, leader }));
  let metadataAskedMs = Number.NEGATIVE_INFINITY;
  const confirmStartMs = performance.now();
  let lastGrowthMs = confirmStartMs;
  while (performance.now() - confirmStartMs < confirmTimeoutMs) {
    // A leader that lost its lease for a moment (a busy machine) answers NOT_LEADER_OR_FOLLOWER:
    // ask again, and ask Metadata (at most twice a second) in case leadership moved for good.
    await reopenClosed(connections, addresses);
    const asked = await latestOffsets(connections, topic, askAt);
    answeredBrokers = new Set(
      askAt.filter((_, index) => asked.errors[index] === undefined).map((at) => at.leader),
    );
    if (asked.errors.some((error) => error !== undefined) && performance.now() - metadataAskedMs >= 500) {
      metadataAskedMs = performance.now();
      const epochs = await leaderEpochs(anyConnection(), topic).catch(() => new Map());
      for (const entry of askAt) {
        const leader = epochs.get(entry.partition)?.leader ?? -1;
        if (leader >= 0 && connections.has(leader)) entry.leader = leader;
      }
    }
    const before = readableOf();
    offsets = asked.offsets.map((offset, index) => offset ?? offsets[index]);
    offsetErrors = asked.errors;
    if (readableOf() > before) lastGrowthMs = performance.now();
    if (offsets.every((offset, index) => offset !== undefined && offset >= sentByPartition[index])) break;
    // Records written into a connection the broker closed never arrive: stop once nothing moves.
    const allAnswered = asked.errors.every((error) => error === undefined);
    if (
      sockets.some((socket) => socket.closedByBroker) &&
      allAnswered &&
      performance.now() - lastGrowthMs >= confirmSettledMs
    )
      break;
    await sleep(confirmPollMs);
  }
  const elapsedMs = performance.now() - startMs;
  const readable = readableOf();
  for (const socket of sockets) socket.close();
  await reopenClosed(connections, addresses);
  const epochsAfter = await leaderEpochs(anyConnection(), topic).catch(() => new Map());
  const shortfalls = partitions
    .map(({ partition, leader }, index) => ({
      partition,
      leader,
      sent: sentByPartition[index],
      readable: offsets[index],
      missing: sentByPartition[index] - (offsets[index] ?? 0),
      lastError: offsetErrors[index],
      leaderAtEnd: askAt[index].leader,
      epochBefore: epochsBefore.get(partition)?.leaderEpoch,
      epochAfter: epochsAfter.get(partition)?.leaderEpoch,
      closedByBroker: sockets[routes.findIndex((route) => route.leader === leader)].closedByBroker,
    }))
    .filter((shortfall) => shortfall.missing > 0);
  // Leadership that moved can take records with it (those the new leader had not replicated: the
  // old leader truncates them), as Kafka loses acks 0 and 1 records on a failover. An epoch that
  // could not be read is no evidence of a move: such a shortfall counts as silent.
  for (const shortfall of shortfalls)
    shortfall.leaderMoved =
      shortfall.epochBefore !== undefined &&
      shortfall.epochAfter !== undefined &&
      shortfall.epochAfter !== shortfall.epochBefore;
  const closedConnections = routes
    .map((route, index) => ({ route, socket: sockets[index] }))
    .filter(({ socket }) => socket.closedByBroker)
    .map(({ route, socket }) => ({
      leader: route.leader,
      /** Records one request carried: a batch for each partition the broker leads. */
      requestRecords: route.partitions.length * recordsPerBatch,
      /** What is missing of the partitions this connection wrote to. */
      missing: shortfalls
        .filter((shortfall) => route.partitions.includes(shortfall.partition))
        .reduce((sum, shortfall) => sum + shortfall.missing, 0),
      /** Leadership of a short partition it wrote to moved: some records may be lost with it. */
      leaderMoved: shortfalls.some(
        (shortfall) => route.partitions.includes(shortfall.partition) && shortfall.leaderMoved,
      ),
      afterMs: socket.closedByPeerAtMs - startMs,
      whileSending: socket.closedByPeerAtMs < sendEndMs,
      writtenRequests: socket.writtenRequests,
      unsentBytes: socket.unsentBytesAtClose,
      error: socket.error,
    }));
  const silent = shortfalls.filter((shortfall) => !shortfall.closedByBroker && !shortfall.leaderMoved);
  const leaderMoved = shortfalls.filter((shortfall) => shortfall.leaderMoved);
  const missing = Math.max(0, sentRecords - readable);
  return {
    records: readable,
    elapsedMs,
    errors: missing === 0 && closedConnections.length === 0 ? 0 : 1,
    firstError:
      missing === 0 && closedConnections.length === 0
        ? undefined
        : describeAcksZeroLoss({ missing, sentRecords, shortfalls, silent, leaderMoved, closedConnections }),
    acksZero: {
      sentRecords,
      missing,
      shortfalls,
      silentMissing: silent.reduce((sum, shortfall) => sum + shortfall.missing, 0),
      closedConnections,
    },
  };
}

/**
 * For each connection a broker closed in an acks=0 cell: how many Produce requests the broker
 * refused on it, from its warnings ("closing client connection", one per refused request, whose
 * reason names the cell's topic), the records they carried, and the rest of what is missing of the
 * partitions it leads: records the broker never read, written behind the refused ones, or, if
 * leadership of one of them moved (`leaderMoved`), also records it took that the new leader had
 * not replicated.
 * @param {{ leader: number, requestRecords: number, missing: number }[]} closedConnections
 * @param {{ nodeId: number, entry: { msg?: string, reason?: string } }[]} warnings the cell's
 */
export function acksZeroRefusals(closedConnections, warnings, topic) {
  return closedConnections.map((closed) => {
    const refused = warnings.filter(
      ({ nodeId, entry }) =>
        nodeId === closed.leader &&
        entry.msg === 'closing client connection' &&
        String(entry.reason).startsWith('a Produce with acks=0 failed: ') &&
        String(entry.reason).includes(`${topic}-`),
    ).length;
    const refusedRecords = refused * closed.requestRecords;
    return {
      leader: closed.leader,
      refused,
      refusedRecords,
      neverReadRecords: Math.max(0, closed.missing - refusedRecords),
      leaderMoved: closed.leaderMoved === true,
    };
  });
}

/** The acks=0 cell's error text: how many records are missing, where, and why (if the broker said). */
export function describeAcksZeroLoss({
  missing,
  sentRecords,
  shortfalls,
  silent,
  leaderMoved,
  closedConnections,
}) {
  const number = (value) => value.toLocaleString('en-US');
  const parts = [];
  if (missing > 0) {
    const closed = shortfalls.some((shortfall) => shortfall.closedByBroker);
    const kind =
      silent.length > 0
        ? 'SILENT LOSS: records missing on a connection the broker kept open, no leader change'
        : closed && leaderMoved.length > 0
          ? 'lost on connections the broker closed (acks=0 has no other failure signal, as in Kafka) ' +
            'and with leadership that moved (what the new leader had not replicated, as Kafka loses ' +
            'acks 0 and 1 records on a failover)'
          : leaderMoved.length > 0
            ? 'lost on a leader change (not yet replicated when leadership moved, as Kafka loses acks 0 and 1 records on a failover)'
            : 'lost on connections the broker closed (acks=0 has no other failure signal, as in Kafka)';
    parts.push(`${number(missing)} of ${number(sentRecords)} records never readable, ${kind}`);
  } else {
    parts.push(`all ${number(sentRecords)} records readable`);
  }
  for (const shortfall of shortfalls) {
    parts.push(
      `partition ${shortfall.partition} (leader ${shortfall.leader}) short ${number(shortfall.missing)} of ` +
        `${number(shortfall.sent)}` +
        (shortfall.leaderAtEnd === shortfall.leader ? '' : `, leader now ${shortfall.leaderAtEnd}`) +
        (shortfall.epochAfter === shortfall.epochBefore
          ? ''
          : `, leader epoch ${shortfall.epochBefore ?? '?'} -> ${shortfall.epochAfter ?? '?'}`) +
        (shortfall.readable === undefined ? ', never answered ListOffsets' : '') +
        (shortfall.lastError === undefined ? '' : `, last ListOffsets: ${shortfall.lastError}`),
    );
  }
  for (const closed of closedConnections) {
    parts.push(
      `broker ${closed.leader} closed the connection ${(closed.afterMs / 1000).toFixed(1)} s in ` +
        `(${closed.whileSending ? 'while sending' : 'after the last write'}; ${number(closed.writtenRequests)} ` +
        `requests written, ${number(closed.unsentBytes ?? 0)} bytes still unsent` +
        (closed.error === undefined ? '' : `, ${closed.error}`) +
        ')',
    );
  }
  return parts.join('; ');
}

/**
 * Open-loop latency: `ratePerSecond` requests, each one batch of one record, round-robin over the
 * partitions, sent on schedule whether or not earlier ones were answered; the time of each is from
 * its write to its response.
 */
export async function runLatency({ connections, topic, partitions, acks, batch, ratePerSecond, durationMs }) {
  const total = Math.round((ratePerSecond * durationMs) / 1000);
  /** @type {number[]} */
  const samplesMs = [];
  const pending = [];
  let errors = 0;
  let firstError;
  const bodies = partitions.map(({ partition }) =>
    produceBody(topic, acks, [{ partitionIndex: partition, records: batch }]),
  );
  const startMs = performance.now();
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - startMs) * ratePerSecond) / 1000) + 1);
    for (; sent < due; sent++) {
      const index = sent % partitions.length;
      const connection = connections.get(partitions[index].leader);
      const sentMs = performance.now();
      pending.push(
        connection.call(ApiKey.Produce, produceVersion, bodies[index], requestDeadlineMs).then(
          (response) => {
            const error = produceError(response);
            if (error === undefined) samplesMs.push(performance.now() - sentMs);
            else {
              errors += 1;
              firstError ??= error;
            }
          },
          (error) => {
            errors += 1;
            firstError ??= error.message;
          },
        ),
      );
    }
    await sleep(1);
  }
  await Promise.all(pending);
  return { samplesMs, errors, firstError };
}

/**
 * Finds partition leaders through Metadata from whichever broker answers, and keeps one connection
 * per broker, so a producer can follow leadership across a failover. Everything it caches is
 * dropped on an error.
 */
export class LeaderRouter {
  /** @type {Map<number, Promise<KafkaConnection>>} */
  connections = new Map();
  /** @type {Map<number, string>} */
  brokers = new Map();
  next = 0;

  /**
   * @param {string[] | (() => string[])} bootstrap host:port of every node, running or not (a
   *   function when nodes may come back on other ports)
   */
  constructor(bootstrap) {
    this.bootstrap = typeof bootstrap === 'function' ? bootstrap : () => bootstrap;
  }

  /** Fresh Metadata for `topic` from the first broker that answers within `deadlineMs`. */
  async metadata(topic, deadlineMs = 500) {
    let lastError;
    const bootstrap = this.bootstrap();
    for (let tries = 0; tries < bootstrap.length; tries++) {
      const address = bootstrap[this.next++ % bootstrap.length];
      let connection;
      try {
        connection = await openConnection(address, deadlineMs);
        const metadata = await topicMetadata(connection, topic, deadlineMs);
        for (const [id, brokerAddress] of metadata.brokers) this.brokers.set(id, brokerAddress);
        return metadata;
      } catch (error) {
        lastError = error;
      } finally {
        connection?.close();
      }
    }
    throw lastError ?? new Error('no broker to ask');
  }

  /** @param {number} brokerId */
  connection(brokerId, connectTimeoutMs = 500) {
    let connection = this.connections.get(brokerId);
    if (connection === undefined) {
      const address = this.brokers.get(brokerId);
      if (address === undefined) return Promise.reject(new Error(`broker ${brokerId} unknown`));
      connection = openConnection(address, connectTimeoutMs);
      connection.catch(() => this.drop(brokerId));
      this.connections.set(brokerId, connection);
    }
    return connection;
  }

  /** @param {number} brokerId */
  drop(brokerId) {
    const connection = this.connections.get(brokerId);
    this.connections.delete(brokerId);
    connection?.then(
      (open) => open.close(),
      () => {},
    );
  }

  close() {
    for (const brokerId of [...this.connections.keys()]) this.drop(brokerId);
  }
}

/**
 * Closed-loop latency with one request in flight: each request one batch of one record, to the
 * partitions in turn, the next sent when the previous one is answered; the time of each is from its
 * write to its response.
 */
export async function runSingleInFlight({ connections, topic, partitions, acks, batch, durationMs }) {
  /** @type {number[]} */
  const samplesMs = [];
  let errors = 0;
  let firstError;
  const bodies = partitions.map(({ partition }) =>
    produceBody(topic, acks, [{ partitionIndex: partition, records: batch }]),
  );
  const startMs = performance.now();
  for (let sent = 0; performance.now() - startMs < durationMs; sent++) {
    const index = sent % partitions.length;
    const sentMs = performance.now();
    try {
      const response = await connections
        .get(partitions[index].leader)
        .call(ApiKey.Produce, produceVersion, bodies[index], requestDeadlineMs);
      const error = produceError(response);
      if (error === undefined) samplesMs.push(performance.now() - sentMs);
      else {
        errors += 1;
        firstError ??= error;
      }
    } catch (error) {
      errors += 1;
      firstError ??= error.message;
    }
  }
  return { samplesMs, errors, firstError };
}

/** Largest batch the fixed-rate load sends (below the broker's max.message.bytes). */
const fixedRateBatchBytesMax = 256 * 1024;

/**
 * Fixed-rate load the way librdkafka sends it with its defaults: records arrive at
 * `recordsPerSecond`, and every `lingerMs` each leader gets one request carrying, per partition it
 * leads, one batch of the records that arrived meanwhile (open loop: a slow answer does not hold
 * the next request back). The time of each request is from its write to its response (a record's
 * own latency adds up to `lingerMs` of waiting in the client). Reports the largest number of
 * requests unanswered at once, which stays small when the cluster keeps up.
 */
export async function runFixedRate({
  connections,
  topic,
  partitions,
  acks,
  valueBytes,
  recordsPerSecond,
  durationMs,
  lingerMs,
}) {
  const routes = routesByLeader(partitions);
  /** @type {Map<number, Buffer>} one batch per record count, encoded once */
  const batches = new Map();
  const batchOf = (count) => {
    let batch = batches.get(count);
    if (batch === undefined) {
      batch = encodeValueBatch(valueBytes, count);
      batches.set(count, batch);
    }
    return batch;
  };
  /** @type {number[]} */
  const samplesMs = [];
  const pending = [];
  let errors = 0;
  let firstError;
  let unanswered = 0;
  let unansweredMax = 0;
  let sentRecords = 0;
  let ackedRecords = 0;
  const startMs = performance.now();
  while (performance.now() - startMs < durationMs) {
    const due = Math.floor(((performance.now() - startMs) * recordsPerSecond) / 1000);
    let remaining = due - sentRecords;
    if (remaining >= partitions.length) {
      // One batch per partition and request, at most batchBytesMax: a backlog goes out over the
      // next requests, as a client's batches would.
      const perPartition = Math.min(
        Math.floor(remaining / partitions.length),
        Math.floor(fixedRateBatchBytesMax / (valueBytes + 8)),
      );
      for (const route of routes) {
        const count = perPartition * route.partitions.length;
        remaining -= count;
        sentRecords += count;
        const body = produceBody(
          topic,
          acks,
          route.partitions.map((partitionIndex) => ({ partitionIndex, records: batchOf(perPartition) })),
        );
        const sentMs = performance.now();
        unanswered += 1;
        unansweredMax = Math.max(unansweredMax, unanswered);
        pending.push(
          connections
            .get(route.leader)
            .call(ApiKey.Produce, produceVersion, body, requestDeadlineMs)
            .then(
              (response) => {
                const error = produceError(response);
                if (error === undefined) {
                  samplesMs.push(performance.now() - sentMs);
                  ackedRecords += count;
                } else {
                  errors += 1;
                  firstError ??= error;
                }
              },
              (error) => {
                errors += 1;
                firstError ??= error.message;
              },
            )
            .finally(() => {
              unanswered -= 1;
            }),
        );
      }
    }
    await sleep(lingerMs);
  }
  await Promise.all(pending);
  const elapsedMs = performance.now() - startMs;
  return {
    samplesMs,
    errors,
    firstError,
    unansweredMax,
    recordsPerSecond: ackedRecords / (elapsedMs / 1000),
  };
}

// Transactions with librdkafka's transactional producer (python3-confluent-kafka on the current
// librdkafka) against a three-node cluster of broker processes: the coordinator of a transactional
// id is one node, the partitions' leaders are spread over all three, so markers travel over the
// brokers' internal gRPC. Covered: a committed transaction is visible to read_committed readers, an
// aborted one only to read_uncommitted readers (and read_committed readers still reach the end);
// a zombie producer is fenced; a transaction left open is aborted at its transaction.timeout.ms;
// consume-transform-produce with send_offsets_to_transaction commits the group's offsets with it;
// a killed coordinator's open transaction is taken over and aborted by the next one;
// after a kill -9 of every node the outcomes hold (producer state and coordinators rebuilt from logs);
// a timeout above transaction.max.timeout.ms is refused. ListTransactions and DescribeTransactions
// through `gregor transactions` and @platformatic/kafka's codecs, which must agree. A hanging
// transaction holds ListOffsets for read_committed consumers at the last stable offset (read_uncommitted
// ones get the high watermark) until `gregor transactions abort` (WriteTxnMarkers) ends it, found
// with `describe-producers`. __transaction_state as confluent-kafka's AdminClient describes it:
// compacted, transaction.state.log.num.partitions partitions, min(its replication factor, brokers) replicas.

import { execFileSync } from 'node:child_process';
import { Connection, describeTransactionsV0, listTransactionsV1 } from '@platformatic/kafka';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  currentLibrdkafkaEnv,
  replicatedThreeNodeProperties,
  runCurrentLibrdkafkaPython,
} from '../testing/current-librdkafka.js';
import { cliPath, ProcessCluster } from '../testing/process-cluster.js';

const clientTimeoutMs = 90_000;
const script = new URL('./python/confluent_transactions.py', import.meta.url).pathname;
const transactionMaxTimeoutMs = 60_000;
const transactionStatePartitions = 5;
const transactionStateReplicationFactor = 3;

let cluster: ProcessCluster;
let bootstrap: string;

beforeAll(async () => {
  currentLibrdkafkaEnv(); // fails at once, with the fix, when the current librdkafka is not built
  cluster = await ProcessCluster.start({
    nodeCount: 3,
    properties: {
      ...replicatedThreeNodeProperties,
      'transaction.state.log.num.partitions': String(transactionStatePartitions),
      'transaction.state.log.replication.factor': String(transactionStateReplicationFactor),
      'transaction.max.timeout.ms': String(transactionMaxTimeoutMs),
      'group.initial.rebalance.delay.ms': '200',
    },
  });
  bootstrap = `127.0.0.1:${cluster.node(1).kafkaPort}`;
});

afterAll(async () => {
  await cluster?.close();
});

function run<T>(command: object): T {
  return runCurrentLibrdkafkaPython<T>(script, { bootstrap, ...command }, clientTimeoutMs);
}

/** Runs `body` on a @platformatic/kafka connection to node `id` (its raw API codecs). */
async function withPlatformatic<T>(id: number, body: (connection: Connection) => Promise<T>): Promise<T> {
  const connection = new Connection(`txn-platformatic-${id}`);
  await connection.connect('127.0.0.1', cluster.node(id).kafkaPort);
  try {
    return await body(connection);
  } finally {
    await connection.close();
  }
}

interface ReadAnswer {
  records: { partition: number; offset: number; value: string }[];
  ends: Record<string, number>;
}

function read(topic: string, isolation: 'read_committed' | 'read_uncommitted'): ReadAnswer {
  return run<ReadAnswer>({ op: 'read', topic, partitions: [0, 1, 2], isolation });
}

const values = (answer: ReadAnswer): string[] => answer.records.map((record) => record.value).sort();

type Watermarks = Record<'read_committed' | 'read_uncommitted', Record<string, [number, number]>>;

/** Partition 0's low and high offsets by ListOffsets, as read_committed and read_uncommitted consumers get them. */
function watermarks(topic: string): Watermarks {
  const { read_committed, read_uncommitted } = run<Watermarks>({ op: 'watermarks', topic, partitions: [0] });
  return { read_committed, read_uncommitted };
}

/** `gregor transactions --bootstrap-server <bootstrap> ...args`: its standard output. */
function gregor(...args: string[]): string {
  return execFileSync('node', [cliPath, 'transactions', '--bootstrap-server', bootstrap, ...args], {
    encoding: 'utf8',
    timeout: clientTimeoutMs,
  });
}

/** The table `gregor transactions` prints, as rows of trimmed cells (the header first). */
function cliRows(...args: string[]): string[][] {
  return gregor(...args)
    .trim()
    .split('\n')
    .map((line) => line.split('\t').map((cell) => cell.trim()));
}

describe('librdkafka transactions', () => {
  it('shows a committed transaction to read_committed readers and an aborted one only to read_uncommitted', () => {
    const topic = 'txn-visibility';
    const committed = ['c0', 'c1', 'c2', 'c3'].map((value, index) => ({ value, partition: index % 3 }));
    const aborted = ['a0', 'a1', 'a2'].map((value, index) => ({ value, partition: index % 3 }));
    expect(
      run({
        op: 'transaction',
        transactional_id: 'visibility',
        topic,
        records: committed,
        outcome: 'commit',
      }),
    ).toMatchObject({ outcome: 'commit', producer_error: null });
    expect(
      run({ op: 'transaction', transactional_id: 'visibility', topic, records: aborted, outcome: 'abort' }),
    ).toMatchObject({ outcome: 'abort', producer_error: null });

    const readCommitted = read(topic, 'read_committed');
    expect(values(readCommitted)).toEqual(['c0', 'c1', 'c2', 'c3']);
    const readUncommitted = read(topic, 'read_uncommitted');
    expect(values(readUncommitted)).toEqual(['a0', 'a1', 'a2', 'c0', 'c1', 'c2', 'c3']);
    // Both reach the same end: every marker is below the last stable offset.
    expect(readCommitted.ends).toEqual(readUncommitted.ends);
  });

  it('fences a zombie producer once a new instance initialises the same transactional id', () => {
    const topic = 'txn-zombie';
    const answer = run<{ zombie_error: string | null; zombie_fatal: boolean }>({
      op: 'zombie',
      transactional_id: 'zombie',
      topic,
    });
    expect(answer.zombie_error).toMatch(/_FENCED|INVALID_PRODUCER_EPOCH/);
    expect(answer.zombie_fatal).toBe(true);
    expect(values(read(topic, 'read_committed'))).toEqual(['successor']);
    expect(values(read(topic, 'read_uncommitted'))).toEqual(['successor', 'zombie-1']);
  });

  it('aborts a transaction left open past its transaction.timeout.ms', async () => {
    const topic = 'txn-hung';
    run({
      op: 'transaction',
      transactional_id: 'hung',
      topic,
      records: [{ value: 'hung', partition: 1 }],
      outcome: 'hang',
      timeout_ms: 2_000,
    });
    // While it is open, read_committed readers stop below it; once the coordinator aborted it they
    // read to the end, seeing nothing of it.
    const deadline = Date.now() + 30_000;
    let answer = read(topic, 'read_committed');
    while (answer.ends['1'] === 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      answer = read(topic, 'read_committed');
    }
    expect(answer.ends['1']).toBe(2); // the record and the abort marker
    expect(values(answer)).toEqual([]);
    expect(values(read(topic, 'read_uncommitted'))).toEqual(['hung']);
  });

  it('gregor transactions and @platformatic/kafka list and describe the ids with their states (ListTransactions, DescribeTransactions)', async () => {
    const rows = cliRows('list');
    expect(rows[0]).toEqual(['TransactionalId', 'Coordinator', 'ProducerId', 'TransactionState']);
    const states = Object.fromEntries(rows.slice(1).map((row) => [row[0], row[3]]));
    expect(states).toMatchObject({
      visibility: 'CompleteAbort',
      zombie: 'CompleteCommit',
      hung: 'CompleteAbort',
    });
    const [header, described] = cliRows('describe', '--transactional-id', 'hung');
    expect(header).toEqual([
      'CoordinatorId',
      'TransactionalId',
      'ProducerId',
      'ProducerEpoch',
      'TransactionState',
      'TransactionTimeoutMs',
      'CurrentTransactionStartTimeMs',
      'TransactionDurationMs',
      'TopicPartitions',
    ]);
    // Aborted by the coordinator at its timeout, under a bumped epoch (0 → 1).
    expect(described).toMatchObject({ 1: 'hung', 3: '1', 4: 'CompleteAbort', 5: '2000' });
    expect(() => gregor('describe', '--transactional-id', 'never-used')).toThrow(/does not exist/);

    // @platformatic/kafka's codecs (a second client, written without Gregor) as Kafka's admin client
    // uses them: ListTransactions on every broker (each lists the ids its coordinators own), merged;
    // DescribeTransactions on the id's coordinator. Both agree with the CLI's view.
    const listed = new Map<string, [string, bigint, number]>();
    const coordinatorOf = Object.fromEntries(rows.slice(1).map((row) => [row[0], Number(row[1])]));
    for (const node of cluster.nodes) {
      const answer = await withPlatformatic(node.id, (connection) =>
        listTransactionsV1.api.async(connection, [], [], -1n, null),
      );
      expect(answer).toMatchObject({ errorCode: 0, unknownStateFilters: [] });
      for (const state of answer.transactionStates) {
        expect(listed.has(state.transactionalId)).toBe(false);
        expect(coordinatorOf[state.transactionalId]).toBe(node.id);
        listed.set(state.transactionalId, [state.transactionState, state.producerId, node.id]);
      }
    }
    expect(Object.fromEntries([...listed].map(([id, [state]]) => [id, state]))).toEqual(states);
    for (const row of rows.slice(1)) expect(listed.get(row[0]!)?.[1]).toBe(BigInt(row[2]!));
    // A state filter is one of Kafka's state names; @platformatic/kafka's typings offer
    // 'COMPLETE_ABORT', which Kafka does not know: it comes back in unknownStateFilters and, as on
    // Kafka, no transaction matches.
    const aborted = new Set<string>();
    for (const node of cluster.nodes) {
      const answer = await withPlatformatic(node.id, (connection) =>
        listTransactionsV1.api.async(connection, ['CompleteAbort' as 'COMPLETE_ABORT'], [], -1n, null),
      );
      expect(answer.unknownStateFilters).toEqual([]);
      for (const state of answer.transactionStates) aborted.add(state.transactionalId);
      const unknown = await withPlatformatic(node.id, (connection) =>
        listTransactionsV1.api.async(connection, ['COMPLETE_ABORT'], [], -1n, null),
      );
      expect(unknown).toMatchObject({
        errorCode: 0,
        unknownStateFilters: ['COMPLETE_ABORT'],
        transactionStates: [],
      });
    }
    expect([...aborted].sort()).toEqual(
      Object.keys(states)
        .filter((id) => states[id] === 'CompleteAbort')
        .sort(),
    );
    const { transactionStates } = await withPlatformatic(coordinatorOf.hung!, (connection) =>
      describeTransactionsV0.api.async(connection, ['hung']),
    );
    expect(transactionStates).toEqual([
      {
        errorCode: 0,
        transactionalId: 'hung',
        transactionState: 'CompleteAbort',
        transactionTimeoutMs: 2000,
        transactionStartTimeMs: described![6] === 'None' ? -1n : BigInt(described![6]!),
        producerId: BigInt(described![2]!),
        producerEpoch: 1,
        topics: [],
      },
    ]);
  });

  it('holds a hanging transaction at the last stable offset (read_committed ListOffsets) until gregor transactions abort ends it', () => {
    const topic = 'txn-hanging';
    run({
      op: 'transaction',
      transactional_id: 'hanging-before',
      topic,
      records: [{ value: 'before', partition: 0 }],
      outcome: 'commit',
    }); // offsets 0 (the record) and 1 (its commit marker)
    // The producer exits without ending its transaction; its timeout is the longest allowed, so its
    // coordinator leaves it open for the whole test.
    run({
      op: 'transaction',
      transactional_id: 'hanging',
      topic,
      records: [{ value: 'hanging', partition: 0 }],
      outcome: 'hang',
      timeout_ms: transactionMaxTimeoutMs,
    }); // offset 2
    // ListOffsets "latest" from librdkafka's consumers: read_committed gets the last stable offset,
    // the open transaction's first offset; read_uncommitted the high watermark.
    expect(watermarks(topic)).toEqual({ read_committed: { 0: [0, 2] }, read_uncommitted: { 0: [0, 3] } });

    // Found as kafka-transactions.sh's abort --start-offset finds it: the partition's
    // producer whose open transaction starts at offset 2 (DescribeProducers on its leader).
    const producers = cliRows('describe-producers', '--topic', topic, '--partition', '0');
    expect(producers[0]).toEqual([
      'ProducerId',
      'ProducerEpoch',
      'LatestCoordinatorEpoch',
      'LastSequence',
      'LastTimestamp',
      'CurrentTransactionStartOffset',
    ]);
    const open = producers.slice(1).filter((row) => row[5] !== 'None');
    expect(open.map((row) => row[5])).toEqual(['2']);
    const [producerId, producerEpoch, coordinatorEpoch] = open[0]!;
    const [, described] = cliRows('describe', '--transactional-id', 'hanging');
    expect(described).toMatchObject({ 2: producerId, 3: producerEpoch, 4: 'Ongoing', 8: `${topic}-0` });

    // As kafka-transactions.sh does: a producer with no marker yet has coordinator epoch -1, sent as 0.
    const aborted = gregor(
      'abort',
      '--topic',
      topic,
      '--partition',
      '0',
      '--producer-id',
      producerId!,
      '--producer-epoch',
      producerEpoch!,
      '--coordinator-epoch',
      String(Math.max(0, Number(coordinatorEpoch))),
    );
    expect(aborted).toBe(`Aborted the transaction of producer ${producerId} on ${topic}-0\n`);
    // The abort marker (offset 3) ends it: the last stable offset is the high watermark again.
    expect(watermarks(topic)).toEqual({ read_committed: { 0: [0, 4] }, read_uncommitted: { 0: [0, 4] } });
    const committed = run<ReadAnswer>({ op: 'read', topic, partitions: [0], isolation: 'read_committed' });
    expect(committed.ends).toEqual({ 0: 4 });
    expect(values(committed)).toEqual(['before']);
    expect(
      values(run<ReadAnswer>({ op: 'read', topic, partitions: [0], isolation: 'read_uncommitted' })),
    ).toEqual(['before', 'hanging']);
    // The coordinator still holds the transaction open: the marker was the CLI's, not a timeout's.
    expect(cliRows('describe', '--transactional-id', 'hanging')[1]![4]).toBe('Ongoing');
  });

  it('creates __transaction_state compacted, with transaction.state.log.num.partitions partitions of min(replication factor, brokers) replicas', () => {
    // The transactions above created it (on their first FindCoordinator for a transactional id).
    const answer = run<{
      partitions: Record<string, { replicas: number[] }>;
      configs: Record<string, string>;
    }>({ op: 'describe_topic', topic: '__transaction_state' });
    expect(answer.configs['cleanup.policy']).toBe('compact');
    expect(
      Object.keys(answer.partitions)
        .map(Number)
        .sort((a, b) => a - b),
    ).toEqual(Array.from({ length: transactionStatePartitions }, (_, index) => index));
    // Three brokers hold the configured three replicas; fewer live brokers lower the factor (the
    // creator __consumer_offsets shares: groups/group-coordinator-driver.test.ts).
    const replicas = Math.min(transactionStateReplicationFactor, cluster.nodes.length);
    const nodeIds = cluster.nodes.map((node) => node.id);
    for (const partition of Object.values(answer.partitions)) {
      expect(new Set(partition.replicas).size).toBe(replicas);
      for (const replica of partition.replicas) expect(nodeIds).toContain(replica);
    }
  });

  it('consume-transform-produce: send_offsets_to_transaction commits the group offsets with the output', () => {
    const input = 'txn-ctp-in';
    const output = 'txn-ctp-out';
    const records = ['x0', 'x1', 'x2', 'x3', 'x4', 'x5'].map((value, index) => ({
      value,
      partition: index % 3,
    }));
    run({ op: 'transaction', transactional_id: 'ctp-source', topic: input, records, outcome: 'commit' });
    const answer = run<{ consumed: number; committed: Record<string, number> }>({
      op: 'consume_transform_produce',
      group: 'ctp-group',
      input,
      output,
      count: 6,
      transactional_id: 'ctp',
    });
    expect(answer.consumed).toBe(6);
    // Each input partition holds 2 records (offsets 0, 1) and a commit marker (2): the group resumes
    // after the records, at the marker or past it (where the consumer's position stood).
    expect(Object.keys(answer.committed).sort()).toEqual(['0', '1', '2']);
    for (const offset of Object.values(answer.committed)) expect([2, 3]).toContain(offset);
    expect(values(read(output, 'read_committed'))).toEqual(['X0', 'X1', 'X2', 'X3', 'X4', 'X5']);
  });

  it('a new coordinator takes over an open transaction when its coordinator is killed, and aborts it at its timeout', async () => {
    const topic = 'txn-failover';
    run({
      op: 'transaction',
      transactional_id: 'failover',
      topic,
      records: [{ value: 'orphan', partition: 0 }],
      outcome: 'hang',
      timeout_ms: 8_000,
    });
    const describeRow = (): string[] => cliRows('describe', '--transactional-id', 'failover')[1]!;
    const before = describeRow();
    expect(before[4]).toBe('Ongoing');
    const coordinatorId = Number(before[0]);
    await cluster.kill(coordinatorId);
    if (coordinatorId === 1) bootstrap = `127.0.0.1:${cluster.node(2).kafkaPort}`;
    // Another node loads __transaction_state, finds the transaction Ongoing and aborts it at its
    // deadline: read_committed readers then pass it.
    const deadline = Date.now() + 60_000;
    let answer = { records: [], ends: {} } as ReadAnswer;
    while (Date.now() < deadline) {
      try {
        answer = run<ReadAnswer>({ op: 'read', topic, partitions: [0], isolation: 'read_committed' });
        if (answer.ends['0'] === 2) break;
      } catch {
        // The partition may be moving to a new leader.
      }
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
    expect(answer.ends['0']).toBe(2);
    expect(values(answer)).toEqual([]);
    const after = describeRow();
    expect(Number(after[0])).not.toBe(coordinatorId);
    expect(after[4]).toBe('CompleteAbort');
    await cluster.restart(coordinatorId);
    await cluster.waitReady();
    bootstrap = `127.0.0.1:${cluster.node(1).kafkaPort}`;
  });

  it('keeps every outcome across a kill -9 of every node: aborted records stay hidden, the id commits again', async () => {
    const topic = 'txn-visibility';
    const before = read(topic, 'read_committed');
    for (const node of cluster.nodes) await cluster.kill(node.id);
    for (const node of cluster.nodes) await cluster.restart(node.id);
    await cluster.waitReady();
    bootstrap = `127.0.0.1:${cluster.node(1).kafkaPort}`;
    // The aborted transactions and last stable offsets come back from the logs...
    const after = read(topic, 'read_committed');
    expect(values(after)).toEqual(values(before));
    expect(after.ends).toEqual(before.ends);
    // ...and the coordinators from __transaction_state: the same id starts a new transaction.
    run({
      op: 'transaction',
      transactional_id: 'visibility',
      topic,
      records: [{ value: 'c4', partition: 2 }],
      outcome: 'commit',
    });
    expect(values(read(topic, 'read_committed'))).toEqual(['c0', 'c1', 'c2', 'c3', 'c4']);
    expect(values(read(topic, 'read_uncommitted'))).toEqual(['a0', 'a1', 'a2', 'c0', 'c1', 'c2', 'c3', 'c4']);
  });

  it('refuses a transaction.timeout.ms above transaction.max.timeout.ms', () => {
    expect(() =>
      run({
        op: 'transaction',
        transactional_id: 'too-long',
        topic: 'txn-too-long',
        records: [],
        outcome: 'commit',
        timeout_ms: transactionMaxTimeoutMs + 1,
      }),
    ).toThrow(/INVALID_TRANSACTION_TIMEOUT|Invalid.*transaction timeout/i);
  });
});

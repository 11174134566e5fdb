// `gregor transactions`: kafka-transactions.sh's list, describe and abort, with its columns.
//   gregor transactions --bootstrap-server host:port[,...] list [--transactional-id-pattern REGEX]
//   gregor transactions --bootstrap-server host:port[,...] describe --transactional-id ID
//   gregor transactions --bootstrap-server host:port[,...] abort --topic T --partition P
//       --producer-id ID --producer-epoch E --coordinator-epoch C
//   gregor transactions --bootstrap-server host:port[,...] describe-producers --topic T --partition P
//       [--broker-id B]
// list asks every broker (ListTransactions: each lists the ids it coordinates); describe asks the
// id's coordinator (FindCoordinator key type 1, DescribeTransactions); abort writes an abort marker
// for the producer to the partition's leader (WriteTxnMarkers), for a hanging transaction whose
// coordinator no longer knows it. describe-producers asks the partition's leader (or --broker-id) with
// DescribeProducers for the producers its producer state holds.

import { ApiKey } from '@gregor/client';
import { ErrorCode, errorName } from '@gregor/protocol';
import {
  AdminCommandError,
  type AdminSession,
  parseFlags,
  printTable,
  usageExitCode,
  withAdminSession,
} from './admin-session.js';
import type { ClientSecurity } from './client-properties.js';
import { commandConfigHelp, parseConnectionFlags } from './connection-flags.js';
import type { TextOutput } from './dump-log.js';
import type { Address } from './metadata-shell-args.js';
import { optionsOrUsageExit } from './usage.js';

export const transactionsDefaultTimeoutMs = 10_000;
/** The longest --timeout-ms accepted (10 minutes). */
export const transactionsTimeoutMsMax = 600_000;
/** Attempts at a coordinator that is loading or moving before giving up. */
export const transactionsAttemptsMax = 20;
const retryBackoffMs = 250;

export const transactionsUsage = `Usage: gregor transactions --bootstrap-server host:port[,host:port...] [--timeout-ms N]
       [--command-config FILE] <command>

Transactions, like kafka-transactions.sh:
  list [--transactional-id-pattern P]   every transactional id of the cluster and its state; with
                                        P only the ids the whole regular expression P matches
                                        (ListTransactions v2; RE2 syntax, no backreferences)
  describe --transactional-id ID        the id's producer, epoch, state, timeout, start time and
                                        the partitions of its current transaction
  abort --topic T --partition P --producer-id ID --producer-epoch E --coordinator-epoch C
                                        writes an abort marker for that producer to the partition
                                        (ends a hanging transaction the coordinator lost)
  describe-producers --topic T --partition P [--broker-id B]
                                        the partition's active producers (on its leader, or on
                                        broker B): epoch, coordinator epoch, last sequence and
                                        timestamp, the start offset of an open transaction

${commandConfigHelp}
Exit codes: 0 ok, 1 failure (unknown id, cluster unreachable), 2 usage error.
`;

type Command =
  | { readonly kind: 'list'; readonly transactionalIdPattern: string | null }
  | { readonly kind: 'describe'; readonly transactionalId: string }
  | {
      readonly kind: 'describe-producers';
      readonly topic: string;
      readonly partition: number;
      readonly brokerId: number | null;
    }
  | {
      readonly kind: 'abort';
      readonly topic: string;
      readonly partition: number;
      readonly producerId: bigint;
      readonly producerEpoch: number;
      readonly coordinatorEpoch: number;
    };

export async function runTransactions(
  args: readonly string[],
  out: TextOutput,
  err: TextOutput,
): Promise<number> {
  const parsed = optionsOrUsageExit('transactions', transactionsUsage, parseArgs(args), out, err);
  if (typeof parsed === 'number') return parsed;
  return withAdminSession({ ...parsed, clientId: 'gregor-transactions', out, err }, async (context) => {
    switch (parsed.command.kind) {
      case 'list':
        await list(context, parsed.command.transactionalIdPattern);
        return 0;
      case 'describe':
        await describe(context, parsed.command.transactionalId);
        return 0;
      case 'abort':
        await abort(context, parsed.command);
        return 0;
      case 'describe-producers':
        await describeProducers(context, parsed.command);
        return 0;
      default:
        return usageExitCode;
    }
  });
}

function pause(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, retryBackoffMs));
}

async function list(context: AdminSession, transactionalIdPattern: string | null): Promise<void> {
  const metadata = await context.bootstrap.call(ApiKey.Metadata, 1, { topics: [] }, context.timeoutMs);
  const rows: string[][] = [];
  for (const broker of metadata.brokers) {
    const connection = await context.connect(broker.host, broker.port);
    for (let attempt = 1; ; attempt++) {
      // v2 carries the pattern (KIP-1152); without one, v1 as before.
      const response = await connection.call(
        ApiKey.ListTransactions,
        transactionalIdPattern === null ? 1 : 2,
        { stateFilters: [], producerIdFilters: [], durationFilter: -1n, transactionalIdPattern },
        context.timeoutMs,
      );
      if (
        response.errorCode === ErrorCode.COORDINATOR_LOAD_IN_PROGRESS &&
        attempt < transactionsAttemptsMax
      ) {
        await pause();
        continue;
      }
      if (response.errorCode !== ErrorCode.NONE) {
        throw new AdminCommandError(
          `ListTransactions on broker ${broker.nodeId}: ${errorName(response.errorCode)}`,
        );
      }
      for (const state of response.transactionStates) {
        rows.push([
          state.transactionalId,
          String(broker.nodeId),
          String(state.producerId),
          state.transactionState,
        ]);
      }
      break;
    }
  }
  rows.sort((a, b) => a[0]!.localeCompare(b[0]!));
  printTable(context.out, ['TransactionalId', 'Coordinator', 'ProducerId', 'TransactionState'], rows);
}

async function describe(context: AdminSession, transactionalId: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const found = await context.bootstrap.call(
      ApiKey.FindCoordinator,
      2,
      { key: transactionalId, keyType: 1 },
      context.timeoutMs,
    );
    let errorCode: number = found.errorCode;
    if (errorCode === ErrorCode.NONE) {
      const connection = await context.connect(found.host, found.port);
      const response = await connection.call(
        ApiKey.DescribeTransactions,
        0,
        { transactionalIds: [transactionalId] },
        context.timeoutMs,
      );
      const state = response.transactionStates[0];
      if (state === undefined) throw new AdminCommandError('DescribeTransactions answered nothing');
      errorCode = state.errorCode;
      if (errorCode === ErrorCode.NONE) {
        const startMs = Number(state.transactionStartTimeMs);
        const partitions = state.topics.flatMap(({ topic, partitions: ids }) =>
          ids.map((id) => `${topic}-${id}`),
        );
        printTable(
          context.out,
          [
            'CoordinatorId',
            'TransactionalId',
            'ProducerId',
            'ProducerEpoch',
            'TransactionState',
            'TransactionTimeoutMs',
            'CurrentTransactionStartTimeMs',
            'TransactionDurationMs',
            'TopicPartitions',
          ],
          [
            [
              String(found.nodeId),
              state.transactionalId,
              String(state.producerId),
              String(state.producerEpoch),
              state.transactionState,
              String(state.transactionTimeoutMs),
              startMs < 0 ? 'None' : String(startMs),
              startMs < 0 ? 'None' : String(Math.max(0, Date.now() - startMs)),
              partitions.join(','),
            ],
          ],
        );
        return;
      }
      if (errorCode === ErrorCode.TRANSACTIONAL_ID_NOT_FOUND) {
        throw new AdminCommandError(`transactional id '${transactionalId}' does not exist`);
      }
    }
    const retriable =
      errorCode === ErrorCode.COORDINATOR_NOT_AVAILABLE ||
      errorCode === ErrorCode.COORDINATOR_LOAD_IN_PROGRESS ||
      errorCode === ErrorCode.NOT_COORDINATOR;
    if (!retriable || attempt >= transactionsAttemptsMax) {
      throw new AdminCommandError(`transactional id '${transactionalId}': ${errorName(errorCode)}`);
    }
    await pause();
  }
}

async function describeProducers(
  context: AdminSession,
  command: Extract<Command, { kind: 'describe-producers' }>,
): Promise<void> {
  const metadata = await context.bootstrap.call(
    ApiKey.Metadata,
    1,
    { topics: [{ name: command.topic }] },
    context.timeoutMs,
  );
  const topic = metadata.topics.find((candidate) => candidate.name === command.topic);
  const leaderId = topic?.partitions.find((p) => p.partitionIndex === command.partition)?.leaderId ?? -1;
  const brokerId = command.brokerId ?? leaderId;
  const broker = metadata.brokers.find((candidate) => candidate.nodeId === brokerId);
  if (broker === undefined) {
    throw new AdminCommandError(
      command.brokerId === null
        ? `partition ${command.topic}-${command.partition} has no leader`
        : `broker ${command.brokerId} is not a live broker`,
    );
  }
  const connection = await context.connect(broker.host, broker.port);
  const response = await connection.call(
    ApiKey.DescribeProducers,
    0,
    { topics: [{ name: command.topic, partitionIndexes: [command.partition] }] },
    context.timeoutMs,
  );
  const partition = response.topics[0]?.partitions[0];
  if (partition === undefined) throw new AdminCommandError('DescribeProducers answered nothing');
  if (partition.errorCode !== ErrorCode.NONE) {
    throw new AdminCommandError(
      `DescribeProducers for ${command.topic}-${command.partition} on broker ${brokerId}: ${errorName(partition.errorCode)}`,
    );
  }
  printTable(
    context.out,
    [
      'ProducerId',
      'ProducerEpoch',
      'LatestCoordinatorEpoch',
      'LastSequence',
      'LastTimestamp',
      'CurrentTransactionStartOffset',
    ],
    partition.activeProducers.map((producer) => [
      String(producer.producerId),
      String(producer.producerEpoch),
      String(producer.coordinatorEpoch),
      String(producer.lastSequence),
      String(producer.lastTimestamp),
      producer.currentTxnStartOffset < 0n ? 'None' : String(producer.currentTxnStartOffset),
    ]),
  );
}

async function abort(context: AdminSession, command: Extract<Command, { kind: 'abort' }>): Promise<void> {
  const metadata = await context.bootstrap.call(
    ApiKey.Metadata,
    1,
    { topics: [{ name: command.topic }] },
    context.timeoutMs,
  );
  const topic = metadata.topics.find((candidate) => candidate.name === command.topic);
  const leaderId = topic?.partitions.find((p) => p.partitionIndex === command.partition)?.leaderId ?? -1;
  const leader = metadata.brokers.find((broker) => broker.nodeId === leaderId);
  if (topic === undefined || topic.errorCode !== ErrorCode.NONE || leader === undefined) {
    throw new AdminCommandError(`partition ${command.topic}-${command.partition} has no leader`);
  }
  const connection = await context.connect(leader.host, leader.port);
  const response = await connection.call(
    ApiKey.WriteTxnMarkers,
    1,
    {
      markers: [
        {
          producerId: command.producerId,
          producerEpoch: command.producerEpoch,
          transactionResult: false,
          topics: [{ name: command.topic, partitionIndexes: [command.partition] }],
          coordinatorEpoch: command.coordinatorEpoch,
        },
      ],
    },
    context.timeoutMs,
  );
  const errorCode =
    response.markers[0]?.topics[0]?.partitions[0]?.errorCode ?? ErrorCode.UNKNOWN_SERVER_ERROR;
  if (errorCode !== ErrorCode.NONE) {
    throw new AdminCommandError(
      `abort marker for ${command.topic}-${command.partition}: ${errorName(errorCode)}`,
    );
  }
  context.out.write(
    `Aborted the transaction of producer ${command.producerId} on ${command.topic}-${command.partition}\n`,
  );
}

function parseArgs(
  args: readonly string[],
): { bootstrap: Address[]; timeoutMs: number; security: ClientSecurity; command: Command } | 'help' | string {
  const valueFlags = new Set([
    '--bootstrap-server',
    '--command-config',
    '--timeout-ms',
    '--transactional-id',
    '--topic',
    '--partition',
    '--producer-id',
    '--producer-epoch',
    '--coordinator-epoch',
    '--broker-id',
    '--transactional-id-pattern',
  ]);
  const parsed = parseFlags(args, valueFlags, new Set());
  if (typeof parsed === 'string') return parsed;
  const { flags, positional } = parsed;
  const integer = (flag: string, min: number, max: number): number | string => {
    const text = flags.get(flag);
    if (text === undefined) return `${flag} is required`;
    const value = Number(text);
    if (!Number.isInteger(value) || value < min || value > max) {
      return `${flag} must be an integer in [${min}, ${max}], got '${text}'`;
    }
    return value;
  };
  const connection = parseConnectionFlags(flags, transactionsDefaultTimeoutMs, transactionsTimeoutMsMax);
  if (typeof connection === 'string') return connection;
  const { bootstrap, timeoutMs, security } = connection;
  const [name, ...rest] = positional;
  if (rest.length > 0) return `unexpected '${rest.join(' ')}'`;
  const done = (command: Command) => ({ bootstrap, timeoutMs, security, command });
  switch (name) {
    case 'list':
      return done({ kind: 'list', transactionalIdPattern: flags.get('--transactional-id-pattern') ?? null });
    case 'describe': {
      const transactionalId = flags.get('--transactional-id');
      if (transactionalId === undefined) return 'describe needs --transactional-id';
      return done({ kind: 'describe', transactionalId });
    }
    case 'describe-producers': {
      const topic = flags.get('--topic');
      if (topic === undefined) return 'describe-producers needs --topic';
      const partition = integer('--partition', 0, 0x7fffffff);
      if (typeof partition === 'string') return partition;
      const brokerId = flags.has('--broker-id') ? integer('--broker-id', 0, 0x7fffffff) : null;
      if (typeof brokerId === 'string') return brokerId;
      return done({ kind: 'describe-producers', topic, partition, brokerId });
    }
    case 'abort': {
      const topic = flags.get('--topic');
      if (topic === undefined) return 'abort needs --topic';
      const partition = integer('--partition', 0, 0x7fffffff);
      const producerEpoch = integer('--producer-epoch', 0, 0x7fff);
      const coordinatorEpoch = integer('--coordinator-epoch', 0, 0x7fffffff);
      const producerIdText = flags.get('--producer-id');
      for (const value of [partition, producerEpoch, coordinatorEpoch])
        if (typeof value === 'string') return value;
      if (producerIdText === undefined || !/^\d+$/.test(producerIdText)) {
        return `--producer-id must be a non-negative integer, got '${producerIdText ?? ''}'`;
      }
      return done({
        kind: 'abort',
        topic,
        partition: partition as number,
        producerId: BigInt(producerIdText),
        producerEpoch: producerEpoch as number,
        coordinatorEpoch: coordinatorEpoch as number,
      });
    }
    case undefined:
      return 'a command is required: list, describe, describe-producers or abort';
    default:
      return `unknown command '${name}'`;
  }
}

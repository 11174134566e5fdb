// The `gregor` subcommand table. Each command gets its arguments and two text outputs and returns an
// exit code, so tests call it without spawning a process. Add a command by adding a row.

import { runChaosCommand } from '@gregor/chaos';
import { runAcls } from './acls.js';
import { runBroker } from './broker-start.js';
import { runCluster } from './cluster.js';
import { runConfigs, runQuotas } from './configs.js';
import { runConsume } from './console-consumer.js';
import { withProcessInput } from './console-input.js';
import { runProduce } from './console-producer.js';
import { runDelegationTokens } from './delegation-tokens.js';
import { runDeleteRecords } from './delete-records.js';
import { runDumpLog, type TextOutput } from './dump-log.js';
import { runFeatures } from './features.js';
import { runGetOffsets } from './get-offsets.js';
import { runGroups } from './groups.js';
import { runLeaderElection } from './leader-election.js';
import { runLogDirs } from './log-dirs.js';
import { runMetadataQuorum } from './metadata-quorum.js';
import { runMetadataShell } from './metadata-shell.js';
import { runPerfTest } from './perf-test.js';
import { runReassignPartitions } from './reassign-partitions.js';
import { runTopics } from './topics.js';
import { runTransactions } from './transactions.js';
import { usageExitCode } from './usage.js';
import { runUsers } from './users.js';

export interface CliCommand {
  readonly summary: string;
  readonly run: (args: readonly string[], out: TextOutput, err: TextOutput) => number | Promise<number>;
}

export { usageExitCode };

export const commands: Readonly<Record<string, CliCommand>> = {
  acls: { summary: 'add, remove and list ACLs, like kafka-acls.sh', run: runAcls },
  broker: { summary: 'run a broker: gregor broker start --config server.properties', run: runBroker },
  cluster: {
    summary: 'the cluster id, and unregistering a broker shut down for good (kafka-cluster.sh)',
    run: runCluster,
  },
  chaos: {
    summary: 'a chaos campaign against a cluster it starts: faults, real clients, a checked history',
    run: runChaosCommand,
  },
  features: {
    summary: 'describe, upgrade, downgrade and disable finalized feature levels (kafka-features.sh)',
    run: runFeatures,
  },
  configs: {
    summary:
      'describe and alter topic and broker configs and client quotas (kafka-configs.sh): describe, alter --add-config/--delete-config',
    run: runConfigs,
  },
  consume: {
    summary: 'print the records of a topic (kafka-console-consumer.sh): as a group member or one partition',
    run: (args, out, err) => withProcessInput((input) => runConsume(args, out, err, input)),
  },
  'delegation-tokens': {
    summary: 'create, renew, expire and describe delegation tokens (kafka-delegation-tokens.sh)',
    run: runDelegationTokens,
  },
  'delete-records': {
    summary: 'delete the records below given offsets (kafka-delete-records.sh --offset-json-file)',
    run: runDeleteRecords,
  },
  'dump-log': { summary: 'print the batches of a .log segment or the entries of an index', run: runDumpLog },
  'get-offsets': {
    summary: "offsets of a topic's partitions: latest, earliest or by time (kafka-get-offsets.sh)",
    run: runGetOffsets,
  },
  groups: {
    summary: 'list and describe consumer groups (members, lag), reset and delete their offsets',
    run: runGroups,
  },
  'perf-test': {
    summary:
      'producer and consumer throughput and latency (kafka-producer-perf-test.sh, kafka-consumer-perf-test.sh)',
    run: (args, out, err) => withProcessInput((input) => runPerfTest(args, out, err, input)),
  },
  produce: {
    summary: 'send records read from stdin or a file, one per line (kafka-console-producer.sh)',
    run: (args, out, err) => withProcessInput((input) => runProduce(args, out, err, input)),
  },
  topics: {
    summary: 'create, list, describe, alter (partitions) and delete topics (kafka-topics.sh)',
    run: runTopics,
  },
  'leader-election': {
    summary: 'PREFERRED or UNCLEAN leader elections (kafka-leader-election.sh)',
    run: runLeaderElection,
  },
  'log-dirs': {
    summary: "describe the brokers' log directories as JSON (kafka-log-dirs.sh --describe)",
    run: runLogDirs,
  },
  'metadata-quorum': {
    summary: 'describe the metadata quorum (--status, --replication), like kafka-metadata-quorum.sh',
    run: runMetadataQuorum,
  },
  'metadata-shell': {
    summary: 'browse the cluster metadata as znode-like paths (ls, cat, tree), online or offline',
    run: (args, out, err) => runMetadataShell(args, out, err),
  },
  'reassign-partitions': {
    summary:
      'move partitions between brokers: generate, execute, verify, cancel, list (kafka-reassign-partitions.sh)',
    run: runReassignPartitions,
  },
  quotas: {
    summary:
      'describe and alter client quotas of users, client ids and ips (kafka-configs.sh --entity-type users|clients|ips)',
    run: runQuotas,
  },
  transactions: {
    summary: 'list and describe transactional ids, abort a hanging transaction (kafka-transactions.sh)',
    run: runTransactions,
  },
  users: {
    summary: "SCRAM users' credentials (describe, add, delete), like kafka-configs.sh --entity-type users",
    run: runUsers,
  },
};

export function usage(): string {
  const width = Math.max(...Object.keys(commands).map((name) => name.length));
  const rows = Object.entries(commands).map(
    ([name, command]) => `  ${name.padEnd(width)}  ${command.summary}`,
  );
  return `Usage: gregor <command> [arguments]\n\nCommands:\n${rows.join('\n')}\n`;
}

/** Runs `gregor <argv...>`; returns the exit code (2 for a usage error). */
export async function runCli(argv: readonly string[], out: TextOutput, err: TextOutput): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? err : out).write(usage());
    return name === undefined ? usageExitCode : 0;
  }
  const command = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (command === undefined) {
    err.write(`gregor: unknown command '${name}'\n${usage()}`);
    return usageExitCode;
  }
  return command.run(args, out, err);
}

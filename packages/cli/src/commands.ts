// The `gregor` subcommand table. Each command gets its arguments and two text outputs and returns an
// exit code, so tests call it without spawning a process. Add a command by adding a row.
//
// Each row imports its module when the command runs, not when the table loads: `gregor broker start`
// then never loads the client tools, kafkajs (through @gregor/chaos) or the other commands' code,
// which an idle broker otherwise held for its lifetime (about 10 MB resident; see "Resident memory
// of an idle broker" in packages/broker/README.md).

import type { TextOutput } from './dump-log.js';
import { usageExitCode } from './usage.js';

export interface CliCommand {
  readonly summary: string;
  readonly run: (args: readonly string[], out: TextOutput, err: TextOutput) => number | Promise<number>;
}

export { usageExitCode };

export const commands: Readonly<Record<string, CliCommand>> = {
  acls: {
    summary: 'add, remove and list ACLs, like kafka-acls.sh',
    run: async (args, out, err) => (await import('./acls.js')).runAcls(args, out, err),
  },
  broker: {
    summary: 'run a broker: gregor broker start --config server.properties',
    run: async (args, out, err) => (await import('./broker-start.js')).runBroker(args, out, err),
  },
  cluster: {
    summary: 'the cluster id, and unregistering a broker shut down for good (kafka-cluster.sh)',
    run: async (args, out, err) => (await import('./cluster.js')).runCluster(args, out, err),
  },
  chaos: {
    summary: 'a chaos campaign against a cluster it starts: faults, real clients, a checked history',
    run: async (args, out, err) => (await import('@gregor/chaos')).runChaosCommand(args, out, err),
  },
  features: {
    summary: 'describe, upgrade, downgrade and disable finalized feature levels (kafka-features.sh)',
    run: async (args, out, err) => (await import('./features.js')).runFeatures(args, out, err),
  },
  configs: {
    summary:
      'describe and alter topic and broker configs and client quotas (kafka-configs.sh): describe, alter --add-config/--delete-config',
    run: async (args, out, err) => (await import('./configs.js')).runConfigs(args, out, err),
  },
  consume: {
    summary: 'print the records of a topic (kafka-console-consumer.sh): as a group member or one partition',
    run: async (args, out, err) => {
      const [{ withProcessInput }, { runConsume }] = await Promise.all([
        import('./console-input.js'),
        import('./console-consumer.js'),
      ]);
      return withProcessInput((input) => runConsume(args, out, err, input));
    },
  },
  'delegation-tokens': {
    summary: 'create, renew, expire and describe delegation tokens (kafka-delegation-tokens.sh)',
    run: async (args, out, err) =>
      (await import('./delegation-tokens.js')).runDelegationTokens(args, out, err),
  },
  'delete-records': {
    summary: 'delete the records below given offsets (kafka-delete-records.sh --offset-json-file)',
    run: async (args, out, err) => (await import('./delete-records.js')).runDeleteRecords(args, out, err),
  },
  'dump-log': {
    summary: 'print the batches of a .log segment or the entries of an index',
    run: async (args, out, err) => (await import('./dump-log.js')).runDumpLog(args, out, err),
  },
  'get-offsets': {
    summary: "offsets of a topic's partitions: latest, earliest or by time (kafka-get-offsets.sh)",
    run: async (args, out, err) => (await import('./get-offsets.js')).runGetOffsets(args, out, err),
  },
  groups: {
    summary: 'list and describe consumer groups (members, lag), reset and delete their offsets',
    run: async (args, out, err) => (await import('./groups.js')).runGroups(args, out, err),
  },
  'perf-test': {
    summary:
      'producer and consumer throughput and latency (kafka-producer-perf-test.sh, kafka-consumer-perf-test.sh)',
    run: async (args, out, err) => {
      const [{ withProcessInput }, { runPerfTest }] = await Promise.all([
        import('./console-input.js'),
        import('./perf-test.js'),
      ]);
      return withProcessInput((input) => runPerfTest(args, out, err, input));
    },
  },
  produce: {
    summary: 'send records read from stdin or a file, one per line (kafka-console-producer.sh)',
    run: async (args, out, err) => {
      const [{ withProcessInput }, { runProduce }] = await Promise.all([
        import('./console-input.js'),
        import('./console-producer.js'),
      ]);
      return withProcessInput((input) => runProduce(args, out, err, input));
    },
  },
  topics: {
    summary: 'create, list, describe, alter (partitions) and delete topics (kafka-topics.sh)',
    run: async (args, out, err) => (await import('./topics.js')).runTopics(args, out, err),
  },
  'leader-election': {
    summary: 'PREFERRED or UNCLEAN leader elections (kafka-leader-election.sh)',
    run: async (args, out, err) => (await import('./leader-election.js')).runLeaderElection(args, out, err),
  },
  'log-dirs': {
    summary: "describe the brokers' log directories as JSON (kafka-log-dirs.sh --describe)",
    run: async (args, out, err) => (await import('./log-dirs.js')).runLogDirs(args, out, err),
  },
  'metadata-quorum': {
    summary: 'describe the metadata quorum (--status, --replication), like kafka-metadata-quorum.sh',
    run: async (args, out, err) => (await import('./metadata-quorum.js')).runMetadataQuorum(args, out, err),
  },
  'metadata-shell': {
    summary: 'browse the cluster metadata as znode-like paths (ls, cat, tree), online or offline',
    run: async (args, out, err) => (await import('./metadata-shell.js')).runMetadataShell(args, out, err),
  },
  'reassign-partitions': {
    summary:
      'move partitions between brokers: generate, execute, verify, cancel, list (kafka-reassign-partitions.sh)',
    run: async (args, out, err) =>
      (await import('./reassign-partitions.js')).runReassignPartitions(args, out, err),
  },
  quotas: {
    summary:
      'describe and alter client quotas of users, client ids and ips (kafka-configs.sh --entity-type users|clients|ips)',
    run: async (args, out, err) => (await import('./configs.js')).runQuotas(args, out, err),
  },
  transactions: {
    summary: 'list and describe transactional ids, abort a hanging transaction (kafka-transactions.sh)',
    run: async (args, out, err) => (await import('./transactions.js')).runTransactions(args, out, err),
  },
  users: {
    summary: "SCRAM users' credentials (describe, add, delete), like kafka-configs.sh --entity-type users",
    run: async (args, out, err) => (await import('./users.js')).runUsers(args, out, err),
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

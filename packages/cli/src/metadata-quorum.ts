// `gregor metadata-quorum`: kafka-metadata-quorum.sh's describe, with its output.
//   gregor metadata-quorum --bootstrap-server host:port[,...] describe --status
//   gregor metadata-quorum --bootstrap-server host:port[,...] describe --replication
// DescribeQuorum v2 (any broker answers with the Raft leader's view) and, for --status, the cluster
// id from Metadata. Gregor's Raft has no directory ids (every one is the zero uuid, printed as
// Kafka prints Uuid.ZERO_UUID) and no observers; its voters' endpoints are their broker listeners.

import { ApiKey } from '@gregor/client';
import { ErrorCode, errorName, type ResponseBody } from '@gregor/protocol';
import {
  AdminCommandError,
  type AdminSession,
  parseFlags,
  printTable,
  withAdminSession,
} from './admin-session.js';
import { commandConfigHelp, parseConnectionFlags } from './connection-flags.js';
import type { TextOutput } from './dump-log.js';
import type { Address } from './metadata-shell-args.js';
import { optionsOrUsageExit } from './usage.js';

export const metadataQuorumDefaultTimeoutMs = 10_000;
/** The longest --timeout-ms accepted (10 minutes). */
export const metadataQuorumTimeoutMsMax = 600_000;
/** Kafka's base64 rendering of Uuid.ZERO_UUID. */
const zeroDirectoryId = 'AAAAAAAAAAAAAAAAAAAAAA';

export const metadataQuorumUsage = `Usage: gregor metadata-quorum --bootstrap-server host:port[,host:port...] [--timeout-ms N]
    [--command-config FILE] describe (--status | --replication)

The metadata quorum, like kafka-metadata-quorum.sh:
  describe --status        cluster id, leader, epoch, high watermark, the largest follower lag
                           (offsets and ms) and the voters with their endpoints
  describe --replication   one row per voter: log end offset, lag, last fetch and last caught-up
                           times (ms since the epoch, on the leader's clock) and its role

${commandConfigHelp}
Exit codes: 0 ok, 1 failure (cluster unreachable, no quorum leader), 2 usage error.
`;

type Quorum = ResponseBody<typeof ApiKey.DescribeQuorum>;
type QuorumPartition = Quorum['topics'][number]['partitions'][number];
type ReplicaState = QuorumPartition['currentVoters'][number];

type View = 'status' | 'replication';

function parseArgs(
  args: readonly string[],
): { bootstrap: Address[]; timeoutMs: number; view: View } | 'help' | string {
  const parsed = parseFlags(
    args,
    new Set(['--bootstrap-server', '--command-config', '--timeout-ms']),
    new Set(['--status', '--replication']),
  );
  if (typeof parsed === 'string') return parsed;
  const { flags, positional } = parsed;
  const connection = parseConnectionFlags(flags, metadataQuorumDefaultTimeoutMs, metadataQuorumTimeoutMsMax);
  if (typeof connection === 'string') return connection;
  if (positional.length === 0) return 'a command is required: describe';
  if (positional[0] !== 'describe') return `unknown command '${positional[0]}'`;
  if (positional.length > 1) return `unexpected '${positional.slice(1).join(' ')}'`;
  const status = flags.has('--status');
  const replication = flags.has('--replication');
  if (status === replication) return 'describe needs exactly one of --status or --replication';
  return { ...connection, view: status ? 'status' : 'replication' };
}

export async function runMetadataQuorum(
  args: readonly string[],
  out: TextOutput,
  err: TextOutput,
): Promise<number> {
  const parsed = optionsOrUsageExit('metadata-quorum', metadataQuorumUsage, parseArgs(args), out, err);
  if (typeof parsed === 'number') return parsed;
  return withAdminSession({ ...parsed, clientId: 'gregor-metadata-quorum', out, err }, async (session) => {
    const { quorum, partition } = await describeQuorum(session);
    if (parsed.view === 'status') await printStatus(session, quorum, partition);
    else printReplication(session.out, partition);
    return 0;
  });
}

async function describeQuorum(
  session: AdminSession,
): Promise<{ quorum: Quorum; partition: QuorumPartition }> {
  const quorum = await session.bootstrap.call(
    ApiKey.DescribeQuorum,
    2,
    { topics: [{ topicName: '__cluster_metadata', partitions: [{ partitionIndex: 0 }] }] },
    session.timeoutMs,
  );
  if (quorum.errorCode !== ErrorCode.NONE) {
    throw new AdminCommandError(`DescribeQuorum: ${errorName(quorum.errorCode)}`);
  }
  const partition = quorum.topics[0]?.partitions[0];
  if (partition === undefined) throw new AdminCommandError('DescribeQuorum answered no partition');
  if (partition.errorCode !== ErrorCode.NONE) {
    const detail = partition.errorMessage === null ? '' : ` (${partition.errorMessage})`;
    throw new AdminCommandError(`DescribeQuorum: ${errorName(partition.errorCode)}${detail}`);
  }
  return { quorum, partition };
}

function leaderOf(partition: QuorumPartition): ReplicaState | undefined {
  return partition.currentVoters.find((voter) => voter.replicaId === partition.leaderId);
}

/** Kafka's MaxFollowerLag and MaxFollowerLagTimeMs (MetadataQuorumCommand.handleDescribeStatus). */
export function followerLag(partition: QuorumPartition): { lag: bigint; lagTimeMs: bigint } {
  const leader = leaderOf(partition);
  const replicas = [...partition.currentVoters, ...partition.observers];
  if (leader === undefined || replicas.length === 0) return { lag: 0n, lagTimeMs: -1n };
  const furthest = replicas.reduce((worst, replica) =>
    replica.logEndOffset < worst.logEndOffset ? replica : worst,
  );
  const lag = leader.logEndOffset - furthest.logEndOffset;
  if (furthest.replicaId === leader.replicaId) return { lag, lagTimeMs: 0n };
  const known = leader.lastCaughtUpTimestamp >= 0n && furthest.lastCaughtUpTimestamp >= 0n;
  return { lag, lagTimeMs: known ? leader.lastCaughtUpTimestamp - furthest.lastCaughtUpTimestamp : -1n };
}

function directoryId(uuidHex: string): string {
  return /^0+$/.test(uuidHex) ? zeroDirectoryId : Buffer.from(uuidHex, 'hex').toString('base64url');
}

async function printStatus(session: AdminSession, quorum: Quorum, partition: QuorumPartition): Promise<void> {
  const metadata = await session.bootstrap.call(ApiKey.Metadata, 2, { topics: [] }, session.timeoutMs);
  const { lag, lagTimeMs } = followerLag(partition);
  const endpoints = (nodeId: number): string =>
    (quorum.nodes.find((node) => node.nodeId === nodeId)?.listeners ?? [])
      .map((listener) => `"${listener.name}://${listener.host}:${listener.port}"`)
      .join(', ');
  const voters = partition.currentVoters.map(
    (voter) =>
      `{"id": ${voter.replicaId}, "directoryId": "${directoryId(voter.replicaDirectoryId)}", "endpoints": [${endpoints(voter.replicaId)}]}`,
  );
  const observers = partition.observers.map(
    (observer) =>
      `{"id": ${observer.replicaId}, "directoryId": "${directoryId(observer.replicaDirectoryId)}"}`,
  );
  session.out.write(
    [
      `ClusterId:              ${metadata.clusterId ?? ''}`,
      `LeaderId:               ${partition.leaderId}`,
      `LeaderEpoch:            ${partition.leaderEpoch}`,
      `HighWatermark:          ${partition.highWatermark}`,
      `MaxFollowerLag:         ${lag}`,
      `MaxFollowerLagTimeMs:   ${lagTimeMs}`,
      `CurrentVoters:          [${voters.join(', ')}]`,
      `CurrentObservers:       [${observers.join(', ')}]`,
      '',
    ].join('\n'),
  );
}

function printReplication(out: TextOutput, partition: QuorumPartition): void {
  const leader = leaderOf(partition);
  const leaderEnd = leader?.logEndOffset ?? 0n;
  const row = (replica: ReplicaState, status: string): string[] => [
    String(replica.replicaId),
    directoryId(replica.replicaDirectoryId),
    String(replica.logEndOffset),
    String(leaderEnd - replica.logEndOffset),
    String(replica.lastFetchTimestamp),
    String(replica.lastCaughtUpTimestamp),
    status,
  ];
  const rows = [
    ...(leader === undefined ? [] : [row(leader, 'Leader')]),
    ...partition.currentVoters
      .filter((voter) => voter.replicaId !== partition.leaderId)
      .map((voter) => row(voter, 'Follower')),
    ...partition.observers.map((observer) => row(observer, 'Observer')),
  ];
  printTable(
    out,
    ['NodeId', 'DirectoryId', 'LogEndOffset', 'Lag', 'LastFetchTimestamp', 'LastCaughtUpTimestamp', 'Status'],
    rows,
  );
}

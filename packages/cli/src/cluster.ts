// `gregor cluster`: kafka-cluster.sh's cluster-id and unregister, with its output.
//   gregor cluster cluster-id --bootstrap-server host:port[,...]
//   gregor cluster unregister --bootstrap-server host:port[,...] --id N
// cluster-id asks DescribeCluster; unregister sends UnregisterBroker (any broker takes it to the
// controller), which removes a broker's registration from the metadata log: for a broker that was
// shut down for good. kafka-cluster.sh names its properties file --config; both it and
// --command-config are accepted.

import { ApiKey } from '@gregor/client';
import { ErrorCode, errorName } from '@gregor/protocol';
import { AdminCommandError, parseFlags, withAdminSession } from './admin-session.js';
import type { ClientSecurity } from './client-properties.js';
import { commandConfigFlag, commandConfigHelp, parseConnectionFlags } from './connection-flags.js';
import type { TextOutput } from './dump-log.js';
import type { Address } from './metadata-shell-args.js';
import { optionsOrUsageExit } from './usage.js';

export const clusterDefaultTimeoutMs = 30_000;
/** The longest --timeout-ms accepted (10 minutes). */
export const clusterTimeoutMsMax = 600_000;

export const clusterUsage = `Usage: gregor cluster <command> --bootstrap-server host:port[,host:port...] [--timeout-ms N]
    [--command-config FILE | --config FILE]

The cluster, like kafka-cluster.sh:
  cluster-id                 prints the cluster id
  unregister --id N          removes broker N's registration (a broker shut down for good); a
                             broker still running under that id registers again

${commandConfigHelp}
Exit codes: 0 ok, 1 failure (the broker's error is printed), 2 usage error.
`;

export type ClusterCommand =
  | { readonly kind: 'cluster-id' }
  | { readonly kind: 'unregister'; readonly id: number };

export interface ClusterOptions {
  readonly bootstrap: Address[];
  readonly timeoutMs: number;
  readonly security: ClientSecurity;
  readonly command: ClusterCommand;
}

export function parseClusterArgs(args: readonly string[]): ClusterOptions | 'help' | string {
  const parsed = parseFlags(
    args,
    new Set(['--bootstrap-server', '--command-config', '--config', '--timeout-ms', '--id']),
    new Set(),
  );
  if (typeof parsed === 'string') return parsed;
  const { flags, positional } = parsed;
  const config = flags.get('--config');
  if (config !== undefined) {
    if (flags.has(commandConfigFlag)) return '--config and --command-config name the same file: give one';
    flags.set(commandConfigFlag, config);
  }
  const connection = parseConnectionFlags(flags, clusterDefaultTimeoutMs, clusterTimeoutMsMax);
  if (typeof connection === 'string') return connection;
  const [name, ...rest] = positional;
  if (rest.length > 0) return `unexpected '${rest.join(' ')}'`;
  const idText = flags.get('--id');
  switch (name) {
    case 'cluster-id':
      if (idText !== undefined) return 'cluster-id takes no --id';
      return { ...connection, command: { kind: 'cluster-id' } };
    case 'unregister': {
      if (idText === undefined) return 'unregister needs --id';
      if (!/^\d+$/.test(idText) || Number(idText) > 0x7fffffff) {
        return `--id must be a broker id (a non-negative integer), got '${idText}'`;
      }
      return { ...connection, command: { kind: 'unregister', id: Number(idText) } };
    }
    case undefined:
      return 'a command is required: cluster-id or unregister';
    default:
      return `unknown command '${name}'`;
  }
}

export async function runCluster(args: readonly string[], out: TextOutput, err: TextOutput): Promise<number> {
  const parsed = optionsOrUsageExit('cluster', clusterUsage, parseClusterArgs(args), out, err);
  if (typeof parsed === 'number') return parsed;
  const { command } = parsed;
  return withAdminSession({ ...parsed, clientId: 'gregor-cluster', out, err }, async (session) => {
    if (command.kind === 'cluster-id') {
      const described = await session.bootstrap.call(
        ApiKey.DescribeCluster,
        0,
        { includeClusterAuthorizedOperations: false },
        session.timeoutMs,
      );
      if (described.errorCode !== ErrorCode.NONE) {
        throw new AdminCommandError(failureText(described.errorCode, described.errorMessage));
      }
      out.write(`Cluster ID: ${described.clusterId}\n`);
      return 0;
    }
    const response = await session.bootstrap.call(
      ApiKey.UnregisterBroker,
      0,
      { brokerId: command.id },
      session.timeoutMs,
    );
    if (response.errorCode !== ErrorCode.NONE) {
      throw new AdminCommandError(failureText(response.errorCode, response.errorMessage));
    }
    out.write(`Broker ${command.id} is no longer registered.\n`);
    return 0;
  });
}

const failureText = (errorCode: number, message: string | null): string =>
  `${errorName(errorCode)}${message ? `: ${message}` : ''}`;

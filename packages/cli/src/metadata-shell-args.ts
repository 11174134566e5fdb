// Command-line arguments of `gregor metadata-shell`: exactly one source (a Kafka listener, a
// controller listener or a data directory), an optional timeout, then an optional command to run
// once (`cat /controller`).

export interface Address {
  readonly host: string;
  readonly port: number;
}

export type MetadataShellSource =
  | {
      readonly kind: 'bootstrap-server';
      readonly addresses: readonly Address[];
      /** Kafka's client properties file (`--command-config`): TLS and SASL to a secured listener. */
      readonly commandConfig?: string;
    }
  | {
      readonly kind: 'controller';
      readonly addresses: readonly Address[];
      /** Kafka's client properties file (`--command-config`): TLS to an SSL controller listener. */
      readonly commandConfig?: string;
    }
  | { readonly kind: 'data-dir'; readonly dir: string };

export interface MetadataShellOptions {
  readonly source: MetadataShellSource;
  /** How long one attempt to reach a node may take. */
  readonly timeoutMs: number;
  /** The command to run once and exit; empty for a shell (interactive or reading stdin). */
  readonly command: readonly string[];
}

export type ParsedMetadataShellArgs =
  | { readonly kind: 'options'; readonly options: MetadataShellOptions }
  | { readonly kind: 'help' }
  | { readonly kind: 'usage-error'; readonly message: string };

export const defaultTimeoutMs = 5_000;
/** Longest accepted --timeout-ms: a larger value is a typo, not a wish. */
export const timeoutMsMax = 600_000;

export const metadataShellUsage = `Usage: gregor metadata-shell <source> [--timeout-ms N] [command [path]]

Browse the cluster metadata as a tree of znode-like paths:
  /cluster/id, /controller, /brokers/ids/<id>, /brokers/topics/<topic>,
  /brokers/topics/<topic>/partitions/<n>/state, /configs/topics/<topic>,
  /topicIds/<id>, /producerIds

Sources (exactly one):
  --bootstrap-server host:port[,host:port...]
      A Kafka listener. Only what the Kafka protocol exposes (Metadata, DescribeConfigs):
      live brokers and their endpoints, the controller id, topics, partitions, leaders,
      leader epochs, replicas, ISRs and topic configs. No fenced brokers, broker or
      partition epochs, topic ids, producer ids or controller epoch.
  --controller host:port[,host:port...]
      A node's CONTROLLER listener (a controller.quorum.voters address): the node's whole
      applied metadata image (fenced state, broker epochs, incarnation ids, topic ids,
      partition epochs, producer ids).
  --command-config file
      Kafka's client properties: security.protocol, ssl.truststore.location (PEM CA
      certificates), ssl.keystore.location (PEM key and certificate chain, for
      ssl.client.auth=required), ssl.endpoint.identification.algorithm (https, the default,
      or empty), and with --bootstrap-server sasl.mechanism (PLAIN, SCRAM-SHA-256/512) and
      sasl.jaas.config. A controller listener speaks PLAINTEXT or SSL only.
  --data-dir dir
      Offline: a stopped node's metadata directory (the one holding __cluster_metadata-0, or
      that directory itself). Refused while the node runs. Entries after the last snapshot may
      not be committed (the high watermark is not stored on disk); the shell says so.

Commands:
  ls [path]      the children of a node
  cat <path>     the data of a node
  tree [path]    the subtree, indented
  cd [path]      change the current node (interactive); pwd prints it
  help, exit

With a command, runs it and exits. Without one, reads commands from stdin, with a
'gregor-metadata> ' prompt when stdin is a terminal.
Exit codes: 0 ok, 1 no such node or cluster unreachable, 2 usage error.
`;

/** `host:port`, `[v6]:port`; null when malformed. */
export function parseAddress(text: string): Address | null {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text.trim());
  if (match === null) return null;
  const port = Number(match[3]);
  if (port < 1 || port > 65_535) return null;
  return { host: match[1] ?? match[2] ?? '', port };
}

function parseAddresses(text: string): Address[] | null {
  const addresses = text.split(',').map(parseAddress);
  return addresses.length > 0 && addresses.every((address) => address !== null)
    ? (addresses as Address[])
    : null;
}

const sourceFlags = ['--bootstrap-server', '--controller', '--data-dir'] as const;
type SourceFlag = (typeof sourceFlags)[number];

export function parseMetadataShellArgs(args: readonly string[]): ParsedMetadataShellArgs {
  const usageError = (message: string): ParsedMetadataShellArgs => ({ kind: 'usage-error', message });
  const sources: MetadataShellSource[] = [];
  let timeoutMs = defaultTimeoutMs;
  let commandConfig: string | undefined;
  let index = 0;
  for (; index < args.length; index++) {
    const arg = args[index]!;
    if (arg === '--help' || arg === '-h') return { kind: 'help' };
    if (!arg.startsWith('--')) break;
    const equals = arg.indexOf('=');
    const flag = equals < 0 ? arg : arg.slice(0, equals);
    if (
      flag !== '--timeout-ms' &&
      flag !== '--command-config' &&
      !(sourceFlags as readonly string[]).includes(flag)
    )
      return usageError(`unknown option '${flag}'`);
    let value: string | undefined;
    if (equals >= 0) value = arg.slice(equals + 1);
    else value = args[++index];
    if (value === undefined || value === '') return usageError(`${flag} needs a value`);
    if (flag === '--timeout-ms') {
      timeoutMs = Number(value);
      if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > timeoutMsMax) {
        return usageError(`--timeout-ms must be an integer in [1, ${timeoutMsMax}], got '${value}'`);
      }
      continue;
    }
    if (flag === '--command-config') {
      commandConfig = value;
      continue;
    }
    const sourceFlag = flag as SourceFlag;
    if (sourceFlag === '--data-dir') {
      sources.push({ kind: 'data-dir', dir: value });
      continue;
    }
    const addresses = parseAddresses(value);
    if (addresses === null) return usageError(`${flag}: expected host:port[,host:port...], got '${value}'`);
    sources.push({ kind: sourceFlag === '--controller' ? 'controller' : 'bootstrap-server', addresses });
  }
  if (sources.length !== 1) {
    return usageError(
      sources.length === 0
        ? 'one of --bootstrap-server, --controller or --data-dir is required'
        : 'give only one of --bootstrap-server, --controller or --data-dir',
    );
  }
  let source = sources[0]!;
  if (commandConfig !== undefined) {
    if (source.kind === 'data-dir') {
      return usageError('--command-config goes with --bootstrap-server or --controller');
    }
    source = { ...source, commandConfig };
  }
  return { kind: 'options', options: { source, timeoutMs, command: args.slice(index) } };
}

// The options of `npm run chaos` / `gregor chaos`, parsed without side effects.

import { type FaultKind, parseFaultWeights } from './scheduler.js';
import { type SecurityMode, securityModes } from './security.js';

export interface CampaignOptions {
  readonly target: 'local' | 'compose';
  readonly durationMs: number;
  /**
   * Faults go on past durationMs until every enabled kind has been injected once, for at most this
   * long in all (twice durationMs unless --duration-max says otherwise).
   */
  readonly durationMaxMs: number;
  readonly seed: number;
  readonly nodes: number;
  readonly partitions: number;
  readonly faultSpec: string;
  readonly weights: ReadonlyMap<FaultKind, number>;
  readonly workloads: ReadonlySet<Workload>;
  /** Records per second over all producers. */
  readonly rate: number;
  readonly resultsDir: string;
  /** Each local node's tmpfs, in MiB. */
  readonly diskMb: number;
  /** Scales fault durations and gaps. */
  readonly pace: number;
  /** plaintext, or sasl_ssl: SASL_SSL (SCRAM-SHA-512) clients, mutual TLS between nodes, ACLs. */
  readonly security: SecurityMode;
  readonly cleanupOnly: boolean;
  /** Check a finished campaign's history again and rewrite its report (a report folder). */
  readonly recheckDir: string | undefined;
  readonly help: boolean;
  /** The arguments these options came from (kept with the report, for --recheck). */
  readonly argv: readonly string[];
}

export const workloads = ['librdkafka', 'kafkajs', 'acks1', 'group', 'reader', 'txn', 'ctp'] as const;
/** Run unless asked for: consume-transform-produce is not in the default set (yet). */
const workloadsNotByDefault: readonly Workload[] = ['ctp'];
export type Workload = (typeof workloads)[number];

export const usage = `Usage: npm run chaos -- [options]      (or: gregor chaos [options])

Starts a Gregor cluster of its own, runs producers and consumers (librdkafka and kafkajs) against
it while a seeded scheduler injects faults, heals it, reads every partition back and checks the
history. Ends with a verdict line and a report folder.

  --target local|compose   local: node processes on 127.0.1.N in a network namespace of its own
                           (root, iptables, tc); compose: the docker-compose cluster (kill, pause)
                           (default local)
  --duration <s>           how long faults are injected (default 180)
  --duration-max <s>       past --duration, faults go on until every enabled kind has been
                           injected once, for at most this long in all (default twice --duration)
  --seed <n>               the scheduler's seed (default: drawn, and printed)
  --nodes 3|5              cluster size (default 3)
  --partitions <n>         partitions of the watched topic (default 6)
  --faults <list>          kinds or families, each optionally name:weight (default all):
                           families kill, pause, partition, netem, disk, clock, all; kinds
                           kill-leader, kill-controller, kill-random, pause-leader,
                           pause-controller, pause-follower, isolate-node, isolate-leader,
                           split-halves, isolate-controller, one-way, bridge, slow-link,
                           lossy-link, disk-full, clock-jump  (e.g. all,kill-leader:8)
  --workload <list>        librdkafka, kafkajs, acks1, group, reader, txn, ctp (default all
                           but ctp; ctp transforms txn's records, so needs txn)
  --rate <n>               records per second over all producers (default 500)
  --results <dir>          where report folders go (default chaos-results)
  --disk-mb <n>            each local node's tmpfs (default 1024)
  --pace <x>               scale fault durations and gaps (default 1)
  --security <mode>        plaintext, or sasl_ssl: every client over SASL_SSL (SCRAM-SHA-512,
                           ACLs on), the nodes' gRPC over mutual TLS; local target only
                           (default plaintext)
  --cleanup                remove what an interrupted campaign may have left, and exit
  --recheck <report dir>   check a finished campaign's history again, rewrite its report
  --help
`;

export function parseOptions(argv: readonly string[]): CampaignOptions {
  const known = [
    '--recheck',
    '--target',
    '--duration',
    '--duration-max',
    '--seed',
    '--nodes',
    '--partitions',
    '--faults',
    '--workload',
    '--rate',
    '--results',
    '--disk-mb',
    '--pace',
    '--security',
  ];
  const values = new Map<string, string>();
  const flags = new Set<string>();
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index]!;
    if (arg === '--cleanup' || arg === '--help' || arg === '-h') {
      flags.add(arg === '-h' ? '--help' : arg);
      continue;
    }
    if (!arg.startsWith('--')) throw new Error(`unexpected argument '${arg}'`);
    const [name, inline] = arg.split('=', 2) as [string, string | undefined];
    if (!known.includes(name)) throw new Error(`unknown option '${name}' (see --help)`);
    const value = inline ?? argv[++index];
    if (value === undefined) throw new Error(`${name} needs a value`);
    values.set(name, value);
  }

  const number = (
    name: string,
    fallback: number,
    check: (value: number) => boolean,
    what: string,
  ): number => {
    const text = values.get(name);
    if (text === undefined) return fallback;
    const value = Number(text);
    if (!Number.isFinite(value) || !check(value)) throw new Error(`${name} must be ${what}, not '${text}'`);
    return value;
  };
  const target = values.get('--target') ?? 'local';
  if (target !== 'local' && target !== 'compose')
    throw new Error(`--target must be local or compose, not '${target}'`);
  const nodes = number('--nodes', 3, (value) => value === 3 || value === 5, '3 or 5');
  if (target === 'compose' && nodes !== 3)
    throw new Error('--target compose runs the three nodes of docker-compose.yml');
  const security = values.get('--security') ?? 'plaintext';
  if (!securityModes.includes(security as SecurityMode))
    throw new Error(`--security must be ${securityModes.join(' or ')}, not '${security}'`);
  if (target === 'compose' && security !== 'plaintext')
    throw new Error('--security sasl_ssl runs on --target local (docker-compose.yml is PLAINTEXT)');
  const faultSpec = values.get('--faults') ?? 'all';
  const workloadText =
    values.get('--workload') ?? workloads.filter((name) => !workloadsNotByDefault.includes(name)).join(',');
  const chosen = new Set<Workload>();
  for (const name of workloadText
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '')) {
    if (!workloads.includes(name as Workload))
      throw new Error(`--workload: unknown workload '${name}'; choose from ${workloads.join(', ')}`);
    chosen.add(name as Workload);
  }
  if (!chosen.has('librdkafka') && !chosen.has('kafkajs') && !chosen.has('acks1') && !chosen.has('txn'))
    throw new Error('--workload: at least one producer (librdkafka, kafkajs, acks1 or txn) is needed');
  if (chosen.has('ctp') && !chosen.has('txn'))
    throw new Error("--workload: ctp transforms the txn producer's records: add txn");
  const durationMs = number('--duration', 180, (value) => value > 0, 'a positive number of seconds') * 1_000;
  const durationMaxMs =
    number(
      '--duration-max',
      (2 * durationMs) / 1_000,
      (value) => value * 1_000 >= durationMs,
      'a number of seconds of at least --duration',
    ) * 1_000;
  return {
    target,
    durationMs,
    durationMaxMs,
    seed:
      number(
        '--seed',
        Math.floor(Math.random() * 2 ** 31),
        (value) => Number.isInteger(value) && value >= 0,
        'a whole number',
      ) >>> 0,
    nodes,
    partitions: number(
      '--partitions',
      6,
      (value) => Number.isInteger(value) && value >= 1 && value <= 256,
      'from 1 to 256',
    ),
    faultSpec,
    weights: parseFaultWeights(faultSpec),
    workloads: chosen,
    rate: number('--rate', 500, (value) => value > 0 && value <= 20_000, 'from 1 to 20000'),
    resultsDir: values.get('--results') ?? 'chaos-results',
    diskMb: number(
      '--disk-mb',
      1024,
      (value) => Number.isInteger(value) && value >= 64,
      'a whole number of at least 64',
    ),
    pace: number('--pace', 1, (value) => value > 0 && value <= 10, 'above 0 and at most 10'),
    security: security as SecurityMode,
    cleanupOnly: flags.has('--cleanup'),
    recheckDir: values.get('--recheck'),
    help: flags.has('--help'),
    argv: [...argv],
  };
}

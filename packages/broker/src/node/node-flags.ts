// The Node flags a broker process starts with. They cannot be set from inside: V8 sizes its young
// generation and its old-generation limit when the process starts
// (v8.setFlagsFromString('--max-semi-space-size=4') afterwards leaves it at its default), so every
// launcher passes them: the `gregor` command's shebang
// (packages/cli/src/main.ts, and through it the container image), scripts/cluster.mjs, the
// benchmarks' and the tests' clusters. A broker started some other way (`node main.js broker
// start`) without them logs a warning naming the one missing. README: "Resident memory".

/**
 * V8's young generation: two semi-spaces of at most this many MiB each. The default (16 MiB on a
 * 64-bit machine) lets the new space reach 32 MiB, every page of it touched and resident. 4 MiB
 * (new space 8 MiB): the most resident memory of the median broker in the 100 B RF 3 acks=1 cell of
 * bench:replication 165 -> 141 MB at the same throughput (299,072 and 300,383 records/s) and 19% more
 * broker CPU per MB (33.8 -> 40.2 ms); 2 MiB cut more (130 MB) but that cell then lost 15% of its
 * throughput at 44% more CPU per MB (README, "Resident memory").
 */
export const youngGenerationSemiSpaceMiBMax = 4;

/**
 * The least old-generation allocation limit V8 may set, in MiB (`--initial-old-space-size`, which V8
 * also takes as the floor of every limit it computes after a mark-compact). V8 counts the external
 * memory (Buffers) allocated since the last mark-compact against that limit, as if it were old
 * space, and starts a mark-compact when the two reach it. Without the floor, a broker's limit is
 * its live heap (about 23 MiB) plus 12-24 MiB, and the Buffers a broker has in flight at 1 KiB
 * acks=all swing by about that much between scavenges: once a broker did one mark-compact under load
 * it started another every ~100 ms (50 per 200,000-record cell instead of 1, twice to three times
 * the CPU of a broker that did not) and stayed so, while the others went on scavenging. With 64 no
 * broker fell into it in 42 broker-cells (48: none in 42), against 39 of 54 without. The cost is
 * memory: in bench:replication's RF 3 cells the most a broker held rose from 146-183 MB to 184-197
 * (48: 174-200, no less), since V8 now lets ~40 MiB of garbage and Buffers build up before it marks
 * (README, "One broker at twice the CPU").
 */
export const oldGenerationAllocationLimitMiBMin = 64;

/** The flags every launcher starts a broker with (`node <flags> main.js broker start ...`). */
export const brokerNodeFlags: readonly string[] = [
  `--max-semi-space-size=${youngGenerationSemiSpaceMiBMax}`,
  `--initial-old-space-size=${oldGenerationAllocationLimitMiBMin}`,
];

/** What a broker started without the flag loses, for the warning it logs. */
export function missingBrokerNodeFlagCost(flag: string): string {
  return flagName(flag) === '--initial-old-space-size'
    ? 'V8 may start a mark-compact every ~100 ms under load and use twice the CPU'
    : "the young generation may grow to 32 MiB and the broker's resident memory by 30-60 MB";
}

/** The part of a flag that names it: `--max-semi-space-size` of `--max-semi-space-size=4`. */
function flagName(flag: string): string {
  const equals = flag.indexOf('=');
  return (equals < 0 ? flag : flag.slice(0, equals)).replaceAll('_', '-');
}

/**
 * The flags of `brokerNodeFlags` this process was started without: neither on the command line
 * (`execArgv`) nor in `NODE_OPTIONS` with any value (an operator's own value is theirs to choose).
 */
export function missingBrokerNodeFlags(
  execArgv: readonly string[],
  nodeOptions: string | undefined,
): string[] {
  const given = new Set(
    [...execArgv, ...(nodeOptions ?? '').split(/\s+/)].filter((arg) => arg !== '').map(flagName),
  );
  return brokerNodeFlags.filter((flag) => !given.has(flagName(flag)));
}

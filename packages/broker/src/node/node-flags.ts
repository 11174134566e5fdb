// The Node flags a broker process starts with. They cannot be set from inside: V8 sizes its young
// generation when the process starts (v8.setFlagsFromString('--max-semi-space-size=2') afterwards
// leaves it at its default), so every launcher passes them: the `gregor` command's shebang
// (packages/cli/src/main.ts, and through it the container image), scripts/cluster.mjs, the
// benchmarks' and the tests' clusters. A broker started some other way (`node main.js broker
// start`) without them logs a warning naming the one missing. README: "Resident memory".

/**
 * V8's young generation: two semi-spaces of at most this many MiB each. The default (16 MiB on a
 * 64-bit machine) lets the new space reach 32 MiB, every page of it touched and resident: 2 MiB
 * cut the most resident memory of the median broker at steady load in bench:replication from 166
 * to 137 MB (185 to 123 MB in the 1 KiB cells alone), the replication path's CPU per MB no higher
 * in one process (bench:replica-fetch-cpu), but up to 40% more broker CPU per MB in the RF 3 acks=1
 * cells; 4 MiB is the compromise (README, "Resident memory").
 */
export const youngGenerationSemiSpaceMiBMax = 2;

/** The flags every launcher starts a broker with (`node <flags> main.js broker start ...`). */
export const brokerNodeFlags: readonly string[] = [`--max-semi-space-size=${youngGenerationSemiSpaceMiBMax}`];

/** The part of a flag that names it: `--max-semi-space-size` of `--max-semi-space-size=2`. */
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

// The flags of the console tools (produce, consume, perf-test), read as Kafka's tools read them:
// `--flag value` and `--flag=value` pairs; switches without a value (`--from-beginning`, `--sync`);
// repeatable flags (`--property k=v --property k2=v2`); and list flags that take every following
// argument up to the next `--flag` (kafka-producer-perf-test.sh's `--producer-props a=1 b=2`).

export interface FlagSpec {
  readonly values: ReadonlySet<string>;
  readonly switches?: ReadonlySet<string>;
  readonly repeated?: ReadonlySet<string>;
  readonly lists?: ReadonlySet<string>;
}

export interface ConsoleFlags {
  /** The last value of each single-valued flag. */
  readonly values: Map<string, string>;
  readonly switches: Set<string>;
  /** Every value of each repeatable or list flag, in order. */
  readonly repeated: Map<string, string[]>;
}

export function readConsoleFlags(
  args: readonly string[],
  spec: FlagSpec,
): ConsoleFlags | 'help' | { readonly usageError: string } {
  const flags: ConsoleFlags = { values: new Map(), switches: new Set(), repeated: new Map() };
  for (let index = 0; index < args.length; index++) {
    const arg = args[index]!;
    if (arg === '--help' || arg === '-h') return 'help';
    const equals = arg.indexOf('=');
    const flag = equals < 0 ? arg : arg.slice(0, equals);
    if (spec.switches?.has(flag)) {
      if (equals >= 0) return { usageError: `${flag} takes no value` };
      flags.switches.add(flag);
      continue;
    }
    if (spec.lists?.has(flag)) {
      const items = equals >= 0 ? [arg.slice(equals + 1)] : [];
      while (index + 1 < args.length && !args[index + 1]!.startsWith('--')) items.push(args[++index]!);
      if (items.length === 0 || items.some((item) => item === ''))
        return { usageError: `${flag} needs a value` };
      flags.repeated.set(flag, [...(flags.repeated.get(flag) ?? []), ...items]);
      continue;
    }
    const repeated = spec.repeated?.has(flag) ?? false;
    if (!repeated && !spec.values.has(flag)) return { usageError: `unknown argument '${arg}'` };
    const value = equals >= 0 ? arg.slice(equals + 1) : args[++index];
    if (value === undefined || value === '') return { usageError: `${flag} needs a value` };
    if (repeated) flags.repeated.set(flag, [...(flags.repeated.get(flag) ?? []), value]);
    else flags.values.set(flag, value);
  }
  return flags;
}

/** `k=v` items (each `--property`, `--producer-property`...) as a map, or the message of a usage error. */
export function keyValues(flag: string, items: readonly string[] | undefined): Map<string, string> | string {
  const out = new Map<string, string>();
  for (const item of items ?? []) {
    const equals = item.indexOf('=');
    if (equals <= 0) return `${flag}: expected key=value, got '${item}'`;
    out.set(item.slice(0, equals), item.slice(equals + 1));
  }
  return out;
}

/** A whole number in [min, max], or null. */
export function integerIn(text: string, min: number, max: number): number | null {
  if (!/^-?\d+$/.test(text)) return null;
  const value = Number(text);
  return Number.isSafeInteger(value) && value >= min && value <= max ? value : null;
}

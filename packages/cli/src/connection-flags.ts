// The two flags every admin verb takes, as kafka-*.sh take them: `--bootstrap-server host:port[,...]`
// (required) and `--timeout-ms` (an integer in [1, max], else the verb's default).

import { type Address, parseAddress } from './metadata-shell-args.js';

export interface ConnectionFlags {
  readonly bootstrap: Address[];
  readonly timeoutMs: number;
}

/** The parsed flags, or the message of a usage error. */
export function parseConnectionFlags(
  flags: ReadonlyMap<string, string>,
  defaultTimeoutMs: number,
  timeoutMsMax: number,
): ConnectionFlags | string {
  const bootstrapText = flags.get('--bootstrap-server');
  if (bootstrapText === undefined) return '--bootstrap-server is required';
  const bootstrap = bootstrapText.split(',').map(parseAddress);
  if (!bootstrap.every((address) => address !== null)) {
    return `--bootstrap-server: expected host:port[,host:port...], got '${bootstrapText}'`;
  }
  const timeoutText = flags.get('--timeout-ms');
  if (timeoutText === undefined) return { bootstrap: bootstrap as Address[], timeoutMs: defaultTimeoutMs };
  const timeoutMs = Number(timeoutText);
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > timeoutMsMax) {
    return `--timeout-ms must be an integer in [1, ${timeoutMsMax}], got '${timeoutText}'`;
  }
  return { bootstrap: bootstrap as Address[], timeoutMs };
}

/**
 * Reads `--flag value` and `--flag=value` pairs, each flag one of `valueFlags`: the map of them,
 * 'help' for --help/-h, or a usage error's message.
 */
export function readValueFlags(
  args: readonly string[],
  valueFlags: ReadonlySet<string>,
): Map<string, string> | 'help' | { readonly usageError: string } {
  const flags = new Map<string, string>();
  for (let index = 0; index < args.length; index++) {
    const arg = args[index]!;
    if (arg === '--help' || arg === '-h') return 'help';
    const equals = arg.indexOf('=');
    const flag = equals < 0 ? arg : arg.slice(0, equals);
    if (!valueFlags.has(flag)) return { usageError: `unknown argument '${arg}'` };
    const value = equals >= 0 ? arg.slice(equals + 1) : args[++index];
    if (value === undefined || value === '') return { usageError: `${flag} needs a value` };
    flags.set(flag, value);
  }
  return flags;
}

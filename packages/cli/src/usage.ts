// What every gregor tool does with arguments that ask for no run: --help prints the tool's usage on
// stdout (exit code 0); a usage error prints `gregor <tool>: <why>` and the usage on stderr (exit
// code 2). The tools' argument parsers answer in one of two shapes, so there is a function for each.

import type { TextOutput } from './dump-log.js';

/** A tool's exit code for a usage error. */
export const usageExitCode = 2;

type NotARun = { readonly kind: 'help' } | { readonly kind: 'usage-error'; readonly message: string };

/**
 * For a parser that answers `{ kind: 'help' }`, `{ kind: 'usage-error', message }` or what to run:
 * what to run, or the exit code once the usage (or the error and the usage) is printed.
 */
export function runOrUsageExit<T extends { readonly kind: string }>(
  tool: string,
  usage: string,
  parsed: T,
  out: TextOutput,
  err: TextOutput,
): Exclude<T, NotARun> | number {
  if (parsed.kind === 'help') {
    out.write(usage);
    return 0;
  }
  if (parsed.kind === 'usage-error') {
    err.write(`gregor ${tool}: ${(parsed as unknown as { message: string }).message}\n${usage}`);
    return usageExitCode;
  }
  return parsed as Exclude<T, NotARun>;
}

/**
 * For a parser that answers `'help'`, a usage error's message, or the options to run with: the
 * options, or the exit code once the usage (or the error and the usage) is printed.
 */
export function optionsOrUsageExit<T extends object>(
  tool: string,
  usage: string,
  parsed: T | string,
  out: TextOutput,
  err: TextOutput,
): T | number {
  if (parsed === 'help') {
    out.write(usage);
    return 0;
  }
  if (typeof parsed === 'string') {
    err.write(`gregor ${tool}: ${parsed}\n${usage}`);
    return usageExitCode;
  }
  return parsed;
}

// `gregor metadata-shell`: the stand-in for zookeeper-shell. Runs one command and exits (for
// scripts), or reads commands from stdin: with a `gregor-metadata> ` prompt when stdin is a
// terminal, line by line otherwise. Output goes to `out`, errors and the offline caveat to `err`,
// so `cat /controller` prints only the node's data.

import { createInterface } from 'node:readline';
import type { TextOutput } from './dump-log.js';
import { metadataShellUsage, parseMetadataShellArgs } from './metadata-shell-args.js';
import {
  type CommandResult,
  MetadataShellSession,
  MetadataUnavailableError,
  words,
} from './metadata-shell-session.js';
import { openSource } from './metadata-shell-sources.js';
import { runOrUsageExit } from './usage.js';

export const metadataShellPrompt = 'gregor-metadata> ';

/** What the shell reads commands from; process.stdin by default. */
export type ShellInput = NodeJS.ReadableStream & { readonly isTTY?: boolean };

function report(result: CommandResult, out: TextOutput, err: TextOutput): void {
  if (result.output !== undefined && result.output !== '') out.write(`${result.output}\n`);
  if (result.error !== undefined) err.write(`${result.error}\n`);
}

export async function runMetadataShell(
  args: readonly string[],
  out: TextOutput,
  err: TextOutput,
  input: ShellInput = process.stdin,
): Promise<number> {
  const parsed = runOrUsageExit('metadata-shell', metadataShellUsage, parseMetadataShellArgs(args), out, err);
  if (typeof parsed === 'number') return parsed;
  const { options } = parsed;
  let source: Awaited<ReturnType<typeof openSource>>;
  try {
    source = await openSource(options.source, options.timeoutMs);
  } catch (error) {
    if (!(error instanceof MetadataUnavailableError)) throw error;
    err.write(`gregor metadata-shell: ${error.message}\n`);
    return 1;
  }
  if (source.note !== null) err.write(`(${source.note})\n`);
  const session = new MetadataShellSession(source.load);

  if (options.command.length > 0) {
    const result = await session.run(options.command);
    report(result, out, err);
    return result.exitCode;
  }

  const interactive = input.isTTY === true;
  const lines = createInterface({
    input,
    output: interactive ? (out as NodeJS.WritableStream) : undefined,
    terminal: interactive,
    prompt: metadataShellPrompt,
  });
  // Reading stdin, the exit code is the worst of the commands run (a script sees any failure);
  // interactively, mistakes are answered and forgotten.
  let worstExitCode = 0;
  if (interactive) lines.prompt();
  for await (const line of lines) {
    const result = await session.run(words(line));
    report(result, out, err);
    if (!interactive) worstExitCode = Math.max(worstExitCode, result.exitCode);
    if (result.exit === true) break;
    if (interactive) lines.prompt();
  }
  lines.close();
  return worstExitCode;
}

// The CLI in the test process, as a user types it: one verb against one broker, what it printed on
// stdout and stderr kept apart, and its exit code.

import { runCli } from '../commands.js';

export interface CliRun {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

/** `gregor <verb> --bootstrap-server <bootstrapServer> <args...>`. */
export async function runVerb(
  verb: string,
  bootstrapServer: string,
  args: readonly string[],
): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(
    [verb, '--bootstrap-server', bootstrapServer, ...args],
    { write: (text: string) => out.push(text) },
    { write: (text: string) => err.push(text) },
  );
  return { code, out: out.join(''), err: err.join('') };
}

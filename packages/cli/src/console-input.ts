// What the console tools get from the process: stdin, and SIGINT as a promise (the tools stop
// reading, flush or commit, print their totals and exit 0, as Kafka's do on Ctrl-C).

import type { ConsoleInput } from './console-producer.js';

/** stdin and the first SIGINT; `release()` removes the handler once the command is done. */
export function processConsoleInput(): ConsoleInput & { release(): void } {
  let onSigint: () => void = () => undefined;
  const interrupted = new Promise<void>((resolve) => {
    onSigint = resolve;
  });
  process.once('SIGINT', onSigint);
  return {
    // Touched only when read: a command that does not read stdin leaves it alone.
    get stdin() {
      return process.stdin;
    },
    interrupted,
    release: () => process.removeListener('SIGINT', onSigint),
  };
}

/** Runs a console command with the process's stdin and SIGINT. */
export async function withProcessInput(run: (input: ConsoleInput) => Promise<number>): Promise<number> {
  const input = processConsoleInput();
  try {
    return await run(input);
  } finally {
    input.release();
  }
}

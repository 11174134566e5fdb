// Runs a system command (iptables, tc, mount, docker) and waits for it; a failure is an error that
// names the command and what it printed, unless the caller allows it (cleanup of what may be gone).

import { execFile } from 'node:child_process';

/** A system command that has not answered by then is a hung command, not a slow one. */
const commandTimeoutMs = 60_000;

export interface RunOptions {
  readonly allowFailure?: boolean;
  readonly timeoutMs?: number;
}

export function run(command: string, args: readonly string[], options: RunOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { timeout: options.timeoutMs ?? commandTimeoutMs, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error !== null && options.allowFailure !== true) {
          reject(new Error(`${command} ${args.join(' ')} failed: ${stderr.trim() || error.message}`));
          return;
        }
        resolve(stdout);
      },
    );
  });
}

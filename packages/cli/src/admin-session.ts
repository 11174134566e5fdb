// What the admin verbs added for operators (metadata-quorum, leader-election, log-dirs) share: one
// connection per broker address, opened on first use and closed at the end; the first reachable
// bootstrap server; a usage/failure exit-code convention; and kafka-*.sh's tab-separated table.

import type { KafkaConnection } from '@gregor/client';
import {
  connectFirstReachable,
  failureExitCode,
  openCliConnection,
  ReopeningConnection,
  withCliConnection,
} from './cli-connection.js';
import { type ClientSecurity, plaintextSecurity } from './client-properties.js';
import type { TextOutput } from './dump-log.js';
import type { Address } from './metadata-shell-args.js';

export { usageExitCode } from './usage.js';
export { failureExitCode };

/** A failure the command reports as `Error: <message>` with exit code 1. */
export class AdminCommandError extends Error {}

export interface AdminSession {
  readonly bootstrap: KafkaConnection;
  readonly connect: (host: string, port: number) => Promise<KafkaConnection>;
  readonly timeoutMs: number;
  readonly out: TextOutput;
}

/** One connection per broker address, opened on first use; close() closes them all. */
class ConnectionPool {
  private readonly connections = new Map<string, ReopeningConnection>();

  constructor(
    private readonly options: {
      readonly clientId: string;
      readonly timeoutMs: number;
      readonly security: ClientSecurity;
    },
  ) {}

  readonly connect = (host: string, port: number): Promise<KafkaConnection> => {
    const key = `${host}:${port}`;
    let connection = this.connections.get(key);
    if (connection === undefined) {
      connection = new ReopeningConnection(() => openCliConnection({ ...this.options, host, port }));
      this.connections.set(key, connection);
    }
    return connection.get();
  };

  close(): void {
    for (const connection of this.connections.values()) connection.close();
  }
}

/**
 * Runs `body` with connections to the cluster; maps AdminCommandError and connection failures to
 * exit code 1 (the message on `err`), and rethrows anything else (a bug).
 */
export function withAdminSession(
  options: {
    readonly bootstrap: readonly Address[];
    readonly timeoutMs: number;
    /** From --command-config; PLAINTEXT when absent. */
    readonly security?: ClientSecurity;
    readonly clientId: string;
    readonly out: TextOutput;
    readonly err: TextOutput;
  },
  body: (session: AdminSession) => Promise<number>,
): Promise<number> {
  const pool = new ConnectionPool({
    clientId: options.clientId,
    timeoutMs: options.timeoutMs,
    security: options.security ?? plaintextSecurity,
  });
  return withCliConnection(
    async () => pool,
    options.err,
    async ({ connect }) => {
      const bootstrap = await connectFirstReachable(options.bootstrap, connect);
      return await body({ bootstrap, connect, timeoutMs: options.timeoutMs, out: options.out });
    },
    [AdminCommandError],
  );
}

/** Kafka's ToolsUtils.prettyPrintTable: columns padded to their widest cell, joined by tabs. */
export function printTable(
  out: TextOutput,
  header: readonly string[],
  rows: readonly (readonly string[])[],
): void {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => row[column]!.length)),
  );
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column]!)))
      .join('\t');
  out.write(`${line(header)}\n`);
  for (const row of rows) out.write(`${line(row)}\n`);
}

/**
 * Splits `args` into flags (`--name value`, `--name=value`, or a bare switch from `switches`) and
 * positional words; a usage-error message for an unknown flag or a missing value.
 */
export function parseFlags(
  args: readonly string[],
  valueFlags: ReadonlySet<string>,
  switches: ReadonlySet<string>,
): { flags: Map<string, string>; positional: string[] } | 'help' | string {
  const flags = new Map<string, string>();
  const positional: string[] = [];
  for (let index = 0; index < args.length; index++) {
    const arg = args[index]!;
    if (arg === '--help' || arg === '-h') return 'help';
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const equals = arg.indexOf('=');
    const flag = equals < 0 ? arg : arg.slice(0, equals);
    if (switches.has(flag) && equals < 0) {
      flags.set(flag, '');
      continue;
    }
    if (!valueFlags.has(flag)) return `unknown option '${flag}'`;
    const value = equals >= 0 ? arg.slice(equals + 1) : args[++index];
    if (value === undefined || value === '') return `${flag} needs a value`;
    flags.set(flag, value);
  }
  return { flags, positional };
}

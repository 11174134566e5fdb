// `gregor users`: SCRAM credentials, in the shape of kafka-configs.sh --entity-type users:
//   gregor users --bootstrap-server H:P --describe [--entity-name alice]
//   gregor users --bootstrap-server H:P --alter --entity-name alice
//                --add-config 'SCRAM-SHA-512=[iterations=8192,password=alice-secret]'
//   gregor users --bootstrap-server H:P --alter --entity-name alice --delete-config SCRAM-SHA-512
// As kafka-configs.sh does, the password is salted and hashed here (a random 32-byte salt,
// PBKDF2 with the mechanism's hash) and only the salted password goes over the wire, in
// AlterUserScramCredentials; the broker keeps StoredKey and ServerKey in the metadata log.
// The connection is PLAINTEXT (to a PLAINTEXT listener).

import { pbkdf2Sync, randomBytes } from 'node:crypto';
import { ApiKey, type KafkaConnection } from '@gregor/client';
import { ErrorCode, errorName } from '@gregor/protocol';
import { openCliConnection, withCliConnection } from './cli-connection.js';
import type { ClientSecurity } from './client-properties.js';
import { commandConfigFlag, commandConfigHelp, securityFromFlag } from './connection-flags.js';
import type { TextOutput } from './dump-log.js';
import { type Address, parseAddress } from './metadata-shell-args.js';
import { optionsOrUsageExit } from './usage.js';

const _usageExitCode = 2;
const failureExitCode = 1;
const timeoutMs = 30_000;
/** kafka-configs.sh's default when the config names no iterations. */
const defaultIterations = 4096;
const saltBytes = 32;

const mechanisms = {
  'SCRAM-SHA-256': { type: 1, hash: 'sha256', keyBytes: 32 },
  'SCRAM-SHA-512': { type: 2, hash: 'sha512', keyBytes: 64 },
} as const;
type MechanismName = keyof typeof mechanisms;
const mechanismNames = Object.keys(mechanisms) as MechanismName[];

/** How long connecting to the bootstrap server (and logging in) may take. */
const usersConnectTimeoutMs = 30_000;

export const usersUsage = `Usage: gregor users --bootstrap-server host:port [--command-config FILE] (--describe | --alter) [options]

SCRAM credentials of users, like kafka-configs.sh --entity-type users:
  --describe [--entity-name U]      mechanisms and iterations of every user, or of U
  --alter --entity-name U --add-config 'SCRAM-SHA-512=[iterations=8192,password=secret]'
                                    set credentials (several mechanisms separated by commas)
  --alter --entity-name U --delete-config SCRAM-SHA-512
                                    remove credentials (several separated by commas)

${commandConfigHelp}
Exit codes: 0 ok, 1 refused or unreachable, 2 usage error.
`;

interface Upsertion {
  readonly mechanism: MechanismName;
  readonly iterations: number;
  readonly password: string;
}

type UsersCommand =
  | { readonly kind: 'describe'; readonly user: string | undefined }
  | {
      readonly kind: 'alter';
      readonly user: string;
      readonly upsertions: readonly Upsertion[];
      readonly deletions: readonly MechanismName[];
    };

/** `SCRAM-SHA-512=[iterations=8192,password=x],SCRAM-SHA-256=[password=y]`. */
function parseAddConfig(text: string): Upsertion[] | string {
  const upsertions: Upsertion[] = [];
  const entry = /\s*([A-Z0-9-]+)=\[([^\]]*)\]\s*(,|$)/y;
  entry.lastIndex = 0;
  while (entry.lastIndex < text.length) {
    const match = entry.exec(text);
    if (match === null)
      return `cannot read --add-config '${text}': expected MECHANISM=[iterations=N,password=P]`;
    const mechanism = match[1] as MechanismName;
    if (!mechanismNames.includes(mechanism))
      return `unknown mechanism ${match[1]}; use ${mechanismNames.join(' or ')}`;
    const fields = new Map<string, string>();
    for (const part of match[2]!.split(',')) {
      const equals = part.indexOf('=');
      if (equals < 0) return `expected name=value in '${part}'`;
      fields.set(part.slice(0, equals).trim(), part.slice(equals + 1));
    }
    const password = fields.get('password');
    if (password === undefined || password === '') return `${mechanism} needs password=...`;
    const iterations = Number(fields.get('iterations') ?? defaultIterations);
    if (!Number.isInteger(iterations))
      return `iterations must be an integer, got '${fields.get('iterations')}'`;
    upsertions.push({ mechanism, iterations, password });
  }
  return upsertions;
}

function parseArgs(
  args: readonly string[],
): { bootstrap: Address; security: ClientSecurity; command: UsersCommand } | string | 'help' {
  const values = new Map<string, string>();
  const switches = new Set<string>();
  for (let index = 0; index < args.length; index++) {
    const arg = args[index]!;
    if (arg === '--help' || arg === '-h') return 'help';
    if (arg === '--describe' || arg === '--alter') switches.add(arg);
    else if (
      [
        '--bootstrap-server',
        '--command-config',
        '--entity-name',
        '--add-config',
        '--delete-config',
        '--entity-type',
      ].includes(arg)
    ) {
      const value = args[++index];
      if (value === undefined) return `${arg} needs a value`;
      values.set(arg, value);
    } else return `unknown argument '${arg}'`;
  }
  const entityType = values.get('--entity-type');
  if (entityType !== undefined && entityType !== 'users')
    return `--entity-type must be users, got '${entityType}'`;
  const bootstrapText = values.get('--bootstrap-server');
  if (bootstrapText === undefined) return '--bootstrap-server is required';
  const bootstrap = parseAddress(bootstrapText.split(',')[0]!);
  if (bootstrap === null) return `--bootstrap-server '${bootstrapText}' is not host:port`;
  const security = securityFromFlag(commandConfigFlag, values.get(commandConfigFlag));
  if (typeof security === 'string') return security;
  if (switches.size !== 1) return 'give exactly one of --describe and --alter';
  const user = values.get('--entity-name');
  if (switches.has('--describe')) return { bootstrap, security, command: { kind: 'describe', user } };
  if (user === undefined || user === '') return '--alter needs --entity-name';
  const add = values.get('--add-config');
  const remove = values.get('--delete-config');
  if (add === undefined && remove === undefined) return '--alter needs --add-config or --delete-config';
  const upsertions = add === undefined ? [] : parseAddConfig(add);
  if (typeof upsertions === 'string') return upsertions;
  const deletions = (remove ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  const unknown = deletions.find((name) => !mechanismNames.includes(name as MechanismName));
  if (unknown !== undefined) return `unknown mechanism ${unknown}; use ${mechanismNames.join(' or ')}`;
  return {
    bootstrap,
    security,
    command: { kind: 'alter', user, upsertions, deletions: deletions as MechanismName[] },
  };
}

export async function runUsers(args: readonly string[], out: TextOutput, err: TextOutput): Promise<number> {
  const parsed = optionsOrUsageExit('users', usersUsage, parseArgs(args), out, err);
  if (typeof parsed === 'number') return parsed;
  const command = parsed.command;
  return withCliConnection(
    () =>
      openCliConnection({
        ...parsed.bootstrap,
        clientId: 'gregor-users',
        timeoutMs: usersConnectTimeoutMs,
        security: parsed.security,
      }),
    err,
    (connection) =>
      command.kind === 'describe'
        ? describe(connection, command.user, out, err)
        : alter(connection, command, out, err),
  );
}

async function describe(
  connection: KafkaConnection,
  user: string | undefined,
  out: TextOutput,
  err: TextOutput,
): Promise<number> {
  const response = await connection.call(
    ApiKey.DescribeUserScramCredentials,
    0,
    { users: user === undefined ? null : [{ name: user }] },
    timeoutMs,
  );
  if (response.errorCode !== ErrorCode.NONE) {
    err.write(`Error: ${errorName(response.errorCode)}: ${response.errorMessage ?? ''}\n`);
    return failureExitCode;
  }
  let failed = false;
  for (const result of response.results) {
    if (result.errorCode !== ErrorCode.NONE) {
      err.write(`Error: user ${result.user}: ${errorName(result.errorCode)}: ${result.errorMessage ?? ''}\n`);
      failed = true;
      continue;
    }
    const credentials = result.credentialInfos
      .map((info) => {
        const name = mechanismNames.find((candidate) => mechanisms[candidate].type === info.mechanism);
        return `${name ?? `mechanism-${info.mechanism}`}=iterations=${info.iterations}`;
      })
      .join(', ');
    // kafka-configs.sh's line: SCRAM credential configs for user-principal 'alice' are SCRAM-SHA-512=iterations=8192
    out.write(`SCRAM credential configs for user-principal '${result.user}' are ${credentials}\n`);
  }
  return failed ? failureExitCode : 0;
}

async function alter(
  connection: KafkaConnection,
  command: Extract<UsersCommand, { kind: 'alter' }>,
  out: TextOutput,
  err: TextOutput,
): Promise<number> {
  const response = await connection.call(
    ApiKey.AlterUserScramCredentials,
    0,
    {
      deletions: command.deletions.map((name) => ({ name: command.user, mechanism: mechanisms[name].type })),
      upsertions: command.upsertions.map((upsertion) => {
        const mechanism = mechanisms[upsertion.mechanism];
        const salt = randomBytes(saltBytes);
        return {
          name: command.user,
          mechanism: mechanism.type,
          iterations: upsertion.iterations,
          salt,
          saltedPassword: pbkdf2Sync(
            Buffer.from(upsertion.password, 'utf8'),
            salt,
            upsertion.iterations,
            mechanism.keyBytes,
            mechanism.hash,
          ),
        };
      }),
    },
    timeoutMs,
  );
  let failed = false;
  for (const result of response.results) {
    if (result.errorCode === ErrorCode.NONE) {
      out.write(`Completed updating config for user ${result.userName}.\n`);
    } else {
      failed = true;
      err.write(
        `Error: user ${result.userName}: ${errorName(result.errorCode)}: ${result.errorMessage ?? ''}\n`,
      );
    }
  }
  return failed ? failureExitCode : 0;
}

// `gregor delegation-tokens`: delegation tokens (KIP-48), with kafka-delegation-tokens.sh's flags
// and output:
//   --create --max-life-time-period MS [--renewer-principal User:b]... [--owner-principal User:o]
//   --renew --hmac B64 --renew-time-period MS
//   --expire --hmac B64 --expiry-time-period MS
//   --describe [--owner-principal User:o]...
// Token requests need a connection authenticated by SASL (or a TLS client certificate), so
// --command-config is required, as in Kafka. Dates are printed as Kafka prints them
// (yyyy-MM-dd'T'HH:mm), in UTC where the Java tool uses the JVM's time zone.

import { ApiKey, type KafkaConnection } from '@gregor/client';
import { ErrorCode, errorName } from '@gregor/protocol';
import { failureExitCode } from './admin-session.js';
import { openCliConnection, withCliConnection } from './cli-connection.js';
import type { ClientSecurity } from './client-properties.js';
import { commandConfigFlag, commandConfigHelp, securityFromFlag } from './connection-flags.js';
import type { TextOutput } from './dump-log.js';
import { type Address, parseAddress } from './metadata-shell-args.js';
import { optionsOrUsageExit } from './usage.js';

const timeoutMs = 30_000;

export const delegationTokensUsage = `Usage: gregor delegation-tokens --bootstrap-server host:port --command-config FILE ACTION [options]

Delegation tokens (KIP-48), like kafka-delegation-tokens.sh. ACTION is one of:
  --create --max-life-time-period MS [--renewer-principal User:NAME]... [--owner-principal User:NAME]
        a token (-1: the broker's delegation.token.max.lifetime.ms); a token for another owner
        needs CreateTokens on that user
  --renew --hmac HMAC --renew-time-period MS
        a later expiry (-1: the broker's delegation.token.expiry.time.ms), never past the maximum
  --expire --hmac HMAC --expiry-time-period MS
        an earlier expiry; -1 expires the token at once
  --describe [--owner-principal User:NAME]...
        the tokens you own, renew or may describe; with owners, only theirs

${commandConfigHelp}  Token requests need a SASL (or TLS client certificate) connection that is not itself
  authenticated by a token, so --command-config is required.
Exit codes: 0 ok, 1 refused or unreachable, 2 usage error.
`;

export interface Principal {
  readonly principalType: string;
  readonly principalName: string;
}

export type DelegationTokenCommand =
  | {
      readonly kind: 'create';
      readonly maxLifeTimeMs: bigint;
      readonly renewers: readonly Principal[];
      readonly owner: Principal | null;
    }
  | { readonly kind: 'renew'; readonly hmac: Buffer; readonly periodMs: bigint }
  | { readonly kind: 'expire'; readonly hmac: Buffer; readonly periodMs: bigint }
  | { readonly kind: 'describe'; readonly owners: readonly Principal[] | null };

export interface DelegationTokensArgs {
  readonly bootstrap: Address;
  readonly security: ClientSecurity;
  readonly command: DelegationTokenCommand;
}

const actions = ['--create', '--renew', '--expire', '--describe'] as const;
const valueFlags = [
  '--bootstrap-server',
  '--command-config',
  '--max-life-time-period',
  '--renewer-principal',
  '--owner-principal',
  '--hmac',
  '--renew-time-period',
  '--expiry-time-period',
];
/** The options each action takes besides the connection flags. */
const optionsOf: Record<(typeof actions)[number], readonly string[]> = {
  '--create': ['--max-life-time-period', '--renewer-principal', '--owner-principal'],
  '--renew': ['--hmac', '--renew-time-period'],
  '--expire': ['--hmac', '--expiry-time-period'],
  '--describe': ['--owner-principal'],
};

function parsePrincipal(flag: string, text: string): Principal | string {
  const colon = text.indexOf(':');
  if (colon <= 0 || colon === text.length - 1)
    return `${flag} must be principalType:name (as User:alice), got '${text}'`;
  return { principalType: text.slice(0, colon), principalName: text.slice(colon + 1) };
}

function parsePeriod(flag: string, text: string | undefined, action: string): bigint | string {
  if (text === undefined) return `${action} needs ${flag}`;
  if (!/^-?\d+$/.test(text)) return `${flag} must be an integer number of milliseconds, got '${text}'`;
  return BigInt(text);
}

/** The parsed arguments, 'help', or the message of a usage error. */
export function parseDelegationTokensArgs(args: readonly string[]): DelegationTokensArgs | 'help' | string {
  const values = new Map<string, string[]>();
  const given: (typeof actions)[number][] = [];
  for (let index = 0; index < args.length; index++) {
    const arg = args[index]!;
    if (arg === '--help' || arg === '-h') return 'help';
    if ((actions as readonly string[]).includes(arg)) {
      given.push(arg as (typeof actions)[number]);
      continue;
    }
    const equals = arg.indexOf('=');
    const flag = equals < 0 ? arg : arg.slice(0, equals);
    if (!valueFlags.includes(flag)) return `unknown argument '${arg}'`;
    const value = equals >= 0 ? arg.slice(equals + 1) : args[++index];
    if (value === undefined || value === '') return `${flag} needs a value`;
    values.set(flag, [...(values.get(flag) ?? []), value]);
  }
  if (given.length !== 1) return `give exactly one of ${actions.join(', ')}`;
  const action = given[0]!;
  for (const flag of values.keys()) {
    if (flag === '--bootstrap-server' || flag === commandConfigFlag) continue;
    if (!optionsOf[action].includes(flag)) return `${flag} cannot be used with ${action}`;
  }
  for (const [flag, list] of values) {
    if (
      list.length > 1 &&
      flag !== '--renewer-principal' &&
      !(flag === '--owner-principal' && action === '--describe')
    )
      return `${flag} given more than once`;
  }
  const one = (flag: string) => values.get(flag)?.[0];
  const bootstrapText = one('--bootstrap-server');
  if (bootstrapText === undefined) return '--bootstrap-server is required';
  const bootstrap = parseAddress(bootstrapText.split(',')[0]!);
  if (bootstrap === null) return `--bootstrap-server '${bootstrapText}' is not host:port`;
  const configPath = one(commandConfigFlag);
  if (configPath === undefined)
    return `${commandConfigFlag} is required: token requests need a SASL or TLS client-certificate connection`;
  const security = securityFromFlag(commandConfigFlag, configPath);
  if (typeof security === 'string') return security;
  const principals = (flag: string): Principal[] | string => {
    const parsed: Principal[] = [];
    for (const text of values.get(flag) ?? []) {
      const principal = parsePrincipal(flag, text);
      if (typeof principal === 'string') return principal;
      parsed.push(principal);
    }
    return parsed;
  };
  const hmac = (): Buffer | string => {
    const text = one('--hmac');
    if (text === undefined) return `${action} needs --hmac`;
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text))
      return `--hmac must be the token's HMAC in base64, got '${text}'`;
    return Buffer.from(text, 'base64');
  };
  let command: DelegationTokenCommand;
  switch (action) {
    case '--create': {
      const maxLifeTimeMs = parsePeriod('--max-life-time-period', one('--max-life-time-period'), action);
      if (typeof maxLifeTimeMs === 'string') return maxLifeTimeMs;
      const renewers = principals('--renewer-principal');
      if (typeof renewers === 'string') return renewers;
      const owners = principals('--owner-principal');
      if (typeof owners === 'string') return owners;
      command = { kind: 'create', maxLifeTimeMs, renewers, owner: owners[0] ?? null };
      break;
    }
    case '--renew':
    case '--expire': {
      const key = hmac();
      if (typeof key === 'string') return key;
      const flag = action === '--renew' ? '--renew-time-period' : '--expiry-time-period';
      const periodMs = parsePeriod(flag, one(flag), action);
      if (typeof periodMs === 'string') return periodMs;
      command = { kind: action === '--renew' ? 'renew' : 'expire', hmac: key, periodMs };
      break;
    }
    case '--describe': {
      const owners = principals('--owner-principal');
      if (typeof owners === 'string') return owners;
      command = { kind: 'describe', owners: owners.length === 0 ? null : owners };
      break;
    }
  }
  return { bootstrap, security, command };
}

/** Kafka's SimpleDateFormat("yyyy-MM-dd'T'HH:mm"), in UTC. */
export function formatTokenDate(timestampMs: bigint | number): string {
  return new Date(Number(timestampMs)).toISOString().slice(0, 16);
}

export interface TokenLine {
  readonly tokenId: string;
  readonly hmac: Buffer | Uint8Array;
  readonly owner: string;
  readonly requester: string;
  readonly renewers: readonly string[];
  readonly issueTimestamp: bigint;
  readonly expiryTimestamp: bigint;
  readonly maxTimestamp: bigint;
}

const pad = (text: string, width: number) => text.padEnd(width);

/** kafka-delegation-tokens.sh's table: a header line, then one line per token. */
export function tokensTable(tokens: readonly TokenLine[]): string {
  const row = (cells: readonly string[]) =>
    `${pad(cells[0]!, 15)} ${pad(cells[1]!, 30)} ${pad(cells[2]!, 15)} ${pad(cells[3]!, 15)} ${pad(cells[4]!, 25)} ${pad(cells[5]!, 15)} ${pad(cells[6]!, 15)} ${cells[7]!}`;
  const lines = [
    row(['TOKENID', 'HMAC', 'OWNER', 'REQUESTER', 'RENEWERS', 'ISSUEDATE', 'EXPIRYDATE', 'MAXDATE']),
    ...tokens.map((token) =>
      row([
        token.tokenId,
        Buffer.from(token.hmac).toString('base64'),
        token.owner,
        token.requester,
        `[${token.renewers.join(', ')}]`,
        formatTokenDate(token.issueTimestamp),
        formatTokenDate(token.expiryTimestamp),
        formatTokenDate(token.maxTimestamp),
      ]),
    ),
  ];
  return `\n${lines.join('\n')}\n`;
}

/** What an error code means here, for the `Error:` line. */
export function tokenErrorText(errorCode: number): string {
  const why: Record<number, string> = {
    [ErrorCode.DELEGATION_TOKEN_AUTH_DISABLED]: 'the brokers have no delegation.token.secret.key',
    [ErrorCode.DELEGATION_TOKEN_REQUEST_NOT_ALLOWED]:
      'token requests need a SASL or TLS client-certificate connection not itself authenticated by a token (see --command-config)',
    [ErrorCode.DELEGATION_TOKEN_NOT_FOUND]: 'no token has this HMAC',
    [ErrorCode.DELEGATION_TOKEN_OWNER_MISMATCH]: "only the token's owner, requester or renewers may do this",
    [ErrorCode.DELEGATION_TOKEN_EXPIRED]: 'the token has expired',
    [ErrorCode.DELEGATION_TOKEN_AUTHORIZATION_FAILED]:
      'a token for another owner needs CreateTokens on that user',
    [ErrorCode.INVALID_PRINCIPAL_TYPE]: 'owners and renewers must be User principals',
  };
  const reason = why[errorCode];
  return reason === undefined ? errorName(errorCode) : `${errorName(errorCode)}: ${reason}`;
}

const principalText = (principal: Principal) => `${principal.principalType}:${principal.principalName}`;

export async function runDelegationTokens(
  args: readonly string[],
  out: TextOutput,
  err: TextOutput,
): Promise<number> {
  const parsed = optionsOrUsageExit(
    'delegation-tokens',
    delegationTokensUsage,
    parseDelegationTokensArgs(args),
    out,
    err,
  );
  if (typeof parsed === 'number') return parsed;
  return withCliConnection(
    () =>
      openCliConnection({
        ...parsed.bootstrap,
        clientId: 'gregor-delegation-tokens',
        timeoutMs,
        security: parsed.security,
      }),
    err,
    (connection) => run(connection, parsed.command, out, err),
  );
}

async function run(
  connection: KafkaConnection,
  command: DelegationTokenCommand,
  out: TextOutput,
  err: TextOutput,
): Promise<number> {
  const refused = (errorCode: number) => {
    err.write(`Error: ${tokenErrorText(errorCode)}\n`);
    return failureExitCode;
  };
  switch (command.kind) {
    case 'create': {
      out.write(
        `Calling create token operation with renewers :[${command.renewers.map(principalText).join(', ')}] , max-life-time-period :${command.maxLifeTimeMs}\n`,
      );
      const response = await connection.call(
        ApiKey.CreateDelegationToken,
        3,
        {
          ownerPrincipalType: command.owner?.principalType ?? null,
          ownerPrincipalName: command.owner?.principalName ?? null,
          renewers: [...command.renewers],
          maxLifetimeMs: command.maxLifeTimeMs,
        },
        timeoutMs,
      );
      if (response.errorCode !== ErrorCode.NONE) return refused(response.errorCode);
      out.write(`Created delegation token with tokenId : ${response.tokenId}\n`);
      out.write(
        tokensTable([
          {
            tokenId: response.tokenId,
            hmac: response.hmac,
            owner: `${response.principalType}:${response.principalName}`,
            requester: `${response.tokenRequesterPrincipalType}:${response.tokenRequesterPrincipalName}`,
            renewers: command.renewers.map(principalText),
            issueTimestamp: response.issueTimestampMs,
            expiryTimestamp: response.expiryTimestampMs,
            maxTimestamp: response.maxTimestampMs,
          },
        ]),
      );
      return 0;
    }
    case 'renew':
    case 'expire': {
      const hmacText = command.hmac.toString('base64');
      let response: { errorCode: number; expiryTimestampMs: bigint };
      if (command.kind === 'renew') {
        out.write(
          `Calling renew token operation with hmac :${hmacText} , renew-time-period :${command.periodMs}\n`,
        );
        response = await connection.call(
          ApiKey.RenewDelegationToken,
          2,
          { hmac: command.hmac, renewPeriodMs: command.periodMs },
          timeoutMs,
        );
      } else {
        out.write(
          `Calling expire token operation with hmac :${hmacText} , expire-time-period : ${command.periodMs}\n`,
        );
        response = await connection.call(
          ApiKey.ExpireDelegationToken,
          2,
          { hmac: command.hmac, expiryTimePeriodMs: command.periodMs },
          timeoutMs,
        );
      }
      if (response.errorCode !== ErrorCode.NONE) return refused(response.errorCode);
      out.write(
        `Completed ${command.kind} operation. New expiry date : ${formatTokenDate(response.expiryTimestampMs)}\n`,
      );
      return 0;
    }
    case 'describe': {
      out.write(
        command.owners === null
          ? 'Calling describe token operation for current user.\n'
          : `Calling describe token operation for owners :[${command.owners.map(principalText).join(', ')}]\n`,
      );
      const response = await connection.call(
        ApiKey.DescribeDelegationToken,
        3,
        { owners: command.owners === null ? null : [...command.owners] },
        timeoutMs,
      );
      if (response.errorCode !== ErrorCode.NONE) return refused(response.errorCode);
      out.write(`Total number of tokens : ${response.tokens.length}\n`);
      out.write(
        tokensTable(
          response.tokens.map((token) => ({
            tokenId: token.tokenId,
            hmac: token.hmac,
            owner: `${token.principalType}:${token.principalName}`,
            requester: `${token.tokenRequesterPrincipalType}:${token.tokenRequesterPrincipalName}`,
            renewers: token.renewers.map(principalText),
            issueTimestamp: token.issueTimestamp,
            expiryTimestamp: token.expiryTimestamp,
            maxTimestamp: token.maxTimestamp,
          })),
        ),
      );
      return 0;
    }
  }
}

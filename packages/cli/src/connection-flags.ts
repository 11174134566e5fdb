// The flags every admin verb takes, as kafka-*.sh take them: `--bootstrap-server host:port[,...]`
// (required), `--timeout-ms` (an integer in [1, max], else the verb's default) and
// `--command-config FILE` (Kafka's client properties: TLS and SASL; kafka-leader-election.sh calls
// it `--admin.config`).

import {
  ClientPropertiesError,
  type ClientSecurity,
  plaintextSecurity,
  readClientProperties,
} from './client-properties.js';
import { type Address, parseAddress } from './metadata-shell-args.js';

export interface ConnectionFlags {
  readonly bootstrap: Address[];
  readonly timeoutMs: number;
  /** From the properties file; PLAINTEXT without one. */
  readonly security: ClientSecurity;
}

/** The flag that names the properties file, in most tools. */
export const commandConfigFlag = '--command-config';

/** The usage lines of the properties-file flag (`flag`: its name in the tool). */
export function securityFlagHelp(flag: string = commandConfigFlag): string {
  return `  ${flag} FILE  Kafka's client properties, to reach a secured listener:
      security.protocol (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL), ssl.truststore.location,
      ssl.keystore.location (PEM), ssl.endpoint.identification.algorithm, sasl.mechanism (PLAIN,
      SCRAM-SHA-256, SCRAM-SHA-512) and sasl.jaas.config
`;
}

/** The usage lines of --command-config. */
export const commandConfigHelp = securityFlagHelp();

/** The security a properties-file flag names (PLAINTEXT without one), or what is wrong with the file. */
export function securityFromFlag(flag: string, path: string | undefined): ClientSecurity | string {
  if (path === undefined) return plaintextSecurity;
  try {
    return readClientProperties(flag, path).security;
  } catch (error) {
    if (error instanceof ClientPropertiesError) return error.message;
    throw error;
  }
}

/** The parsed flags (the properties file read), or the message of a usage error. */
export function parseConnectionFlags(
  flags: ReadonlyMap<string, string>,
  defaultTimeoutMs: number,
  timeoutMsMax: number,
  configFlag: string = commandConfigFlag,
): ConnectionFlags | string {
  const security = securityFromFlag(configFlag, flags.get(configFlag));
  if (typeof security === 'string') return security;
  const bootstrapText = flags.get('--bootstrap-server');
  if (bootstrapText === undefined) return '--bootstrap-server is required';
  const bootstrap = bootstrapText.split(',').map(parseAddress);
  if (!bootstrap.every((address) => address !== null)) {
    return `--bootstrap-server: expected host:port[,host:port...], got '${bootstrapText}'`;
  }
  const timeoutText = flags.get('--timeout-ms');
  if (timeoutText === undefined) {
    return { bootstrap: bootstrap as Address[], timeoutMs: defaultTimeoutMs, security };
  }
  const timeoutMs = Number(timeoutText);
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > timeoutMsMax) {
    return `--timeout-ms must be an integer in [1, ${timeoutMsMax}], got '${timeoutText}'`;
  }
  return { bootstrap: bootstrap as Address[], timeoutMs, security };
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

// Kafka's client properties file, as the kafka-*.sh tools read it (`--command-config`, `--admin.config`,
// `--producer.config`, `--consumer.config`): how to reach a secured listener. The keys and their
// meaning are Kafka's client configs: `security.protocol`, the PEM `ssl.*` keys and
// `ssl.endpoint.identification.algorithm`, `sasl.mechanism` and `sasl.jaas.config` with Kafka's
// PlainLoginModule or ScramLoginModule. A key the tools do not honour is refused by name rather
// than ignored, so no setting in a user's file is silently without effect.

import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { parseProperties } from '@gregor/broker';
import type { PasswordSASLOptions, SASLOptions } from '@gregor/client';

export type SecurityProtocol = 'PLAINTEXT' | 'SSL' | 'SASL_PLAINTEXT' | 'SASL_SSL';

/** TLS material in PEM, as Node's secure context takes it. */
export interface ClientTls {
  /** CA certificates the broker's certificate must chain to; Node's defaults when absent. */
  readonly caPem?: Buffer;
  readonly keyPem?: Buffer;
  readonly certificateChainPem?: Buffer;
  /** ssl.key.password: decrypts an encrypted PEM key. */
  readonly keyPassword?: string;
  /** ssl.endpoint.identification.algorithm=https (Kafka's default): the certificate must name the host. */
  readonly verifyHostname: boolean;
}

export interface ClientSecurity {
  readonly protocol: SecurityProtocol;
  /** For SSL and SASL_SSL. */
  readonly tls?: ClientTls;
  /** For SASL_PLAINTEXT and SASL_SSL. */
  readonly sasl?: SASLOptions;
}

export const plaintextSecurity: ClientSecurity = { protocol: 'PLAINTEXT' };

/** A properties file the tool cannot use: the message names the flag, the file and the key. */
export class ClientPropertiesError extends Error {}

/** The security keys every tool reads. */
export const securityPropertyNames = [
  'security.protocol',
  'ssl.truststore.type',
  'ssl.truststore.location',
  'ssl.truststore.certificates',
  'ssl.keystore.type',
  'ssl.keystore.location',
  'ssl.keystore.certificate.chain',
  'ssl.keystore.key',
  'ssl.key.password',
  'ssl.endpoint.identification.algorithm',
  'sasl.mechanism',
  'sasl.jaas.config',
] as const;

const protocols: readonly SecurityProtocol[] = ['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'];

const loginModules = {
  PLAIN: 'org.apache.kafka.common.security.plain.PlainLoginModule',
  'SCRAM-SHA-256': 'org.apache.kafka.common.security.scram.ScramLoginModule',
  'SCRAM-SHA-512': 'org.apache.kafka.common.security.scram.ScramLoginModule',
} as const;

export interface ClientProperties {
  readonly security: ClientSecurity;
  /** The file's other keys (a tool that takes producer or consumer settings reads them from here). */
  readonly others: ReadonlyMap<string, string>;
}

/**
 * Reads the file at `path` (given with `flag`). Keys outside `securityPropertyNames` and
 * `otherKeys` are refused, naming the key and what the tool reads.
 */
export function readClientProperties(
  flag: string,
  path: string,
  otherKeys: readonly string[] = [],
  readFile: (file: string) => Buffer = (file) => readFileSync(file),
): ClientProperties {
  const where = `${flag} ${path}`;
  let properties: Map<string, string>;
  try {
    properties = parseProperties(readFile(path).toString('utf8'));
  } catch (error) {
    throw new ClientPropertiesError(`${where}: ${(error as Error).message}`);
  }
  const others = new Map<string, string>();
  const unknown: string[] = [];
  for (const [key, value] of properties) {
    if ((securityPropertyNames as readonly string[]).includes(key)) continue;
    if (otherKeys.includes(key)) others.set(key, value);
    else unknown.push(key);
  }
  if (unknown.length > 0) {
    throw new ClientPropertiesError(
      `${where}: ${unknown.map((key) => `'${key}'`).join(', ')} not used by this tool (it reads: ${[...securityPropertyNames, ...otherKeys].join(', ')})`,
    );
  }
  return { security: securityFrom(where, properties, readFile), others };
}

function securityFrom(
  where: string,
  properties: ReadonlyMap<string, string>,
  readFile: (file: string) => Buffer,
): ClientSecurity {
  const protocolText = (properties.get('security.protocol') ?? 'PLAINTEXT').trim().toUpperCase();
  const protocol = protocols.find((name) => name === protocolText);
  if (protocol === undefined) {
    throw new ClientPropertiesError(
      `${where}: security.protocol must be one of ${protocols.join(', ')}, got '${protocolText}'`,
    );
  }
  const usesTls = protocol === 'SSL' || protocol === 'SASL_SSL';
  const usesSasl = protocol === 'SASL_PLAINTEXT' || protocol === 'SASL_SSL';
  const present = (prefix: string) => [...properties.keys()].filter((key) => key.startsWith(prefix));
  if (!usesTls && present('ssl.').length > 0) {
    throw new ClientPropertiesError(
      `${where}: ${present('ssl.').join(', ')} set, but security.protocol ${protocol} uses no TLS`,
    );
  }
  if (!usesSasl && present('sasl.').length > 0) {
    throw new ClientPropertiesError(
      `${where}: ${present('sasl.').join(', ')} set, but security.protocol ${protocol} uses no SASL`,
    );
  }
  return {
    protocol,
    ...(usesTls ? { tls: tlsFrom(where, properties, readFile) } : {}),
    ...(usesSasl ? { sasl: saslFrom(where, properties) } : {}),
  };
}

function tlsFrom(
  where: string,
  properties: ReadonlyMap<string, string>,
  readFile: (file: string) => Buffer,
): ClientTls {
  for (const key of ['ssl.truststore.type', 'ssl.keystore.type']) {
    const type = properties.get(key);
    if (type !== undefined && type.trim().toUpperCase() !== 'PEM') {
      throw new ClientPropertiesError(
        `${where}: ${key} ${type}: only PEM is read (convert a PKCS12 or JKS store with openssl pkcs12 -nodes or keytool -importkeystore)`,
      );
    }
  }
  const fileOrInline = (locationKey: string, inlineKey: string): Buffer | undefined => {
    const location = properties.get(locationKey);
    const inline = properties.get(inlineKey);
    if (location !== undefined && inline !== undefined) {
      throw new ClientPropertiesError(`${where}: set ${locationKey} or ${inlineKey}, not both`);
    }
    if (inline !== undefined) return Buffer.from(inline, 'utf8');
    if (location === undefined) return undefined;
    try {
      return readFile(location);
    } catch (error) {
      throw new ClientPropertiesError(`${where}: ${locationKey}: ${(error as Error).message}`);
    }
  };
  const caPem = fileOrInline('ssl.truststore.location', 'ssl.truststore.certificates');
  if (caPem !== undefined && pemBlocks(caPem, 'CERTIFICATE').length === 0) {
    throw new ClientPropertiesError(`${where}: the truststore holds no PEM certificate`);
  }
  const keystore = fileOrInline('ssl.keystore.location', 'ssl.keystore.key');
  const inlineChain = properties.get('ssl.keystore.certificate.chain');
  let keyPem: string | undefined;
  let chain: string[] = [];
  if (keystore !== undefined) {
    keyPem = pemBlocks(keystore, '[A-Z ]*PRIVATE KEY')[0];
    // A PEM keystore file holds the key and its chain; inline, the chain is a key of its own.
    chain = pemBlocks(inlineChain === undefined ? keystore : Buffer.from(inlineChain, 'utf8'), 'CERTIFICATE');
    if (keyPem === undefined || chain.length === 0) {
      throw new ClientPropertiesError(
        `${where}: the keystore must hold a PEM private key and its certificate chain`,
      );
    }
  } else if (inlineChain !== undefined) {
    throw new ClientPropertiesError(`${where}: ssl.keystore.certificate.chain needs ssl.keystore.key`);
  }
  const identification = (properties.get('ssl.endpoint.identification.algorithm') ?? 'https').trim();
  if (identification !== '' && identification.toLowerCase() !== 'https') {
    throw new ClientPropertiesError(
      `${where}: ssl.endpoint.identification.algorithm must be https or empty, got '${identification}'`,
    );
  }
  const keyPassword = properties.get('ssl.key.password');
  return {
    ...(caPem === undefined ? {} : { caPem }),
    ...(keyPem === undefined
      ? {}
      : { keyPem: Buffer.from(keyPem), certificateChainPem: Buffer.from(chain.join('\n')) }),
    ...(keyPassword === undefined ? {} : { keyPassword }),
    verifyHostname: identification !== '',
  };
}

function pemBlocks(bytes: Buffer, label: string): string[] {
  const pattern = new RegExp(`-----BEGIN (${label})-----[\\s\\S]*?-----END \\1-----`, 'g');
  return bytes.toString('utf8').match(pattern) ?? [];
}

function saslFrom(where: string, properties: ReadonlyMap<string, string>): SASLOptions {
  // Kafka's default mechanism is GSSAPI (Kerberos), which Gregor does not serve.
  const mechanism = (properties.get('sasl.mechanism') ?? 'GSSAPI').trim().toUpperCase();
  if (!(mechanism in loginModules)) {
    throw new ClientPropertiesError(
      `${where}: sasl.mechanism ${mechanism} is not supported by the gregor tools (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)`,
    );
  }
  const jaas = properties.get('sasl.jaas.config');
  if (jaas === undefined) throw new ClientPropertiesError(`${where}: sasl.jaas.config is required for SASL`);
  const parsed = parseJaasConfig(jaas);
  if (typeof parsed === 'string') throw new ClientPropertiesError(`${where}: sasl.jaas.config: ${parsed}`);
  const expectedModule = loginModules[mechanism as keyof typeof loginModules];
  if (parsed.loginModule !== expectedModule) {
    throw new ClientPropertiesError(
      `${where}: sasl.jaas.config: ${mechanism} takes ${expectedModule}, got ${parsed.loginModule}`,
    );
  }
  const username = parsed.options.get('username');
  const password = parsed.options.get('password');
  if (username === undefined || password === undefined) {
    throw new ClientPropertiesError(`${where}: sasl.jaas.config needs username="..." and password="..."`);
  }
  return { mechanism: mechanism.toLowerCase() as PasswordSASLOptions['mechanism'], username, password };
}

export interface JaasConfig {
  readonly loginModule: string;
  readonly flag: string;
  readonly options: ReadonlyMap<string, string>;
}

/**
 * One JAAS login-module entry as Kafka's `sasl.jaas.config` holds it:
 * `<LoginModule class> <required|requisite|sufficient|optional> key="value" key2=value2;`.
 * The entry's text, or the message of what is wrong with it.
 */
export function parseJaasConfig(text: string): JaasConfig | string {
  const tokens: string[] = [];
  let index = 0;
  const source = text.trim();
  while (index < source.length) {
    const char = source[index]!;
    if (/\s/.test(char)) {
      index++;
    } else if (char === ';' || char === '=') {
      tokens.push(char);
      index++;
    } else if (char === '"') {
      let value = '';
      index++;
      while (index < source.length && source[index] !== '"') {
        if (source[index] === '\\' && index + 1 < source.length) index++;
        value += source[index];
        index++;
      }
      if (index >= source.length) return 'a quoted value is not closed';
      index++;
      tokens.push(`"${value}`);
    } else {
      const start = index;
      while (index < source.length && !/[\s;="]/.test(source[index]!)) index++;
      tokens.push(source.slice(start, index));
    }
  }
  const [loginModule, flag, ...rest] = tokens;
  if (loginModule === undefined || flag === undefined)
    return 'expected "<LoginModule> required key=value ...;"';
  if (!['required', 'requisite', 'sufficient', 'optional'].includes(flag.toLowerCase())) {
    return `expected a control flag (required) after ${loginModule}, got '${flag}'`;
  }
  if (rest.at(-1) !== ';') return 'the entry must end with ;';
  const options = new Map<string, string>();
  const body = rest.slice(0, -1);
  for (let at = 0; at < body.length; at += 3) {
    const [key, equals, value] = [body[at], body[at + 1], body[at + 2]];
    if (key === undefined || equals !== '=' || value === undefined || key.startsWith('"') || value === '=') {
      return `expected key=value, got '${body.slice(at, at + 3).join(' ')}'`;
    }
    options.set(key, value.startsWith('"') ? value.slice(1) : value);
  }
  return { loginModule, flag: flag.toLowerCase(), options };
}

/** Node's tls.connect options for this material. */
export function tlsConnectionOptions(tls: ClientTls): ConnectionOptions {
  return {
    ...(tls.caPem === undefined ? {} : { ca: tls.caPem }),
    ...(tls.keyPem === undefined ? {} : { key: tls.keyPem, cert: tls.certificateChainPem }),
    ...(tls.keyPassword === undefined ? {} : { passphrase: tls.keyPassword }),
    // Kafka's ssl.endpoint.identification.algorithm= (empty): the chain is checked, the name is not.
    ...(tls.verifyHostname ? {} : { checkServerIdentity: () => undefined }),
  };
}

/** The `ssl` and `sasl` options of `new Kafka(...)` for this security. */
export function kafkaSecurityConfig(security: ClientSecurity): {
  readonly ssl?: ConnectionOptions;
  readonly sasl?: SASLOptions;
} {
  return {
    ...(security.tls === undefined ? {} : { ssl: tlsConnectionOptions(security.tls) }),
    ...(security.sasl === undefined ? {} : { sasl: security.sasl }),
  };
}

/**
 * A console tool's `--producer.config` / `--consumer.config` (`toolFlag`; `--command-config` is
 * taken as its other name, as the admin tools call it): the security the file names and the settings
 * it holds (`settingKeys`), or the message of a usage error. Without either: PLAINTEXT, no settings.
 */
export function readToolConfig(
  values: ReadonlyMap<string, string>,
  toolFlag: string,
  settingKeys: readonly string[],
): ClientProperties | string {
  const toolPath = values.get(toolFlag);
  const commandPath = values.get('--command-config');
  if (toolPath !== undefined && commandPath !== undefined) {
    return `give ${toolFlag} or --command-config (the same file), not both`;
  }
  const [flag, path] = toolPath !== undefined ? [toolFlag, toolPath] : ['--command-config', commandPath];
  if (path === undefined) return { security: plaintextSecurity, others: new Map() };
  try {
    return readClientProperties(flag, path, settingKeys);
  } catch (error) {
    if (error instanceof ClientPropertiesError) return error.message;
    throw error;
  }
}

// The TLS settings of each SSL and SASL_SSL listener, from Kafka's `ssl.*` keys. Each key may be
// given for one listener as `listener.name.<listener>.ssl.<key>` (listener name lower-cased), which
// wins over the plain `ssl.<key>`, as in Kafka.
//
// Keystores: PEM (a file at ssl.keystore.location holding the private key and the certificate
// chain, or inline ssl.keystore.key and ssl.keystore.certificate.chain; ssl.key.password decrypts an
// encrypted key) or PKCS12 (ssl.keystore.password). Truststores: PEM (ssl.truststore.location or
// inline ssl.truststore.certificates). Java's JKS format cannot be read here and is refused with
// how to convert it. Everything is loaded and checked at start-up (a secure context is built), so a
// wrong path, password or key stops the node with the key named instead of failing clients later.
// The keystore and truststore files are watched while the node runs (network/tls-file-reloader.ts):
// a renewed certificate is served to new connections without a restart.

import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import { SslPrincipalMapper } from '../security/ssl-principal-mapper.js';
import { ConfigError, ConfigProblems } from './config-def.js';

export type SslClientAuth = 'required' | 'requested' | 'none';

export interface ListenerTls {
  /** Key, certificate chain and trusted CAs, ready for tls.createServer. */
  readonly secureContext: SecureContextOptions;
  readonly clientAuth: SslClientAuth;
  readonly principalMapper: SslPrincipalMapper;
  /** Where the settings came from, for the start-up log (never the secrets themselves). */
  readonly description: string;
  /** The keystore and truststore files read (ssl.*.location): watched, and reloaded when changed. */
  readonly files: readonly string[];
  /** Reads the same settings again (the files as they are now); throws a ConfigError as at start-up. */
  readonly reload: () => ListenerTls;
}

/** The ssl.* keys this module reads: they do what Kafka's do. */
export const tlsKeysWithEffect: ReadonlySet<string> = new Set([
  'ssl.keystore.type',
  'ssl.keystore.location',
  'ssl.keystore.password',
  'ssl.key.password',
  'ssl.keystore.certificate.chain',
  'ssl.keystore.key',
  'ssl.truststore.type',
  'ssl.truststore.location',
  'ssl.truststore.password',
  'ssl.truststore.certificates',
  'ssl.client.auth',
  'ssl.principal.mapping.rules',
  'ssl.enabled.protocols',
]);

const tlsVersions = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'] as const;
type TlsVersion = (typeof tlsVersions)[number];

/** A setting of one listener: its listener-prefixed form first, then the plain key. */
export function listenerSetting(
  raw: ReadonlyMap<string, string>,
  listenerName: string,
  key: string,
): { readonly key: string; readonly value: string } | undefined {
  const prefixed = `listener.name.${listenerName.toLowerCase()}.${key}`;
  const own = raw.get(prefixed);
  if (own !== undefined) return { key: prefixed, value: own };
  const shared = raw.get(key);
  return shared === undefined ? undefined : { key, value: shared };
}

function readFile(key: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new ConfigError(key, `cannot read ${path}: ${(error as Error).message}`);
  }
}

const pemBlock = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]+?-----END \1-----/g;

/** The PEM blocks of a text, split into private keys and certificates. */
function pemBlocks(text: string): { keys: string[]; certificates: string[] } {
  const keys: string[] = [];
  const certificates: string[] = [];
  for (const match of text.matchAll(pemBlock)) {
    if (match[1]!.endsWith('PRIVATE KEY')) keys.push(match[0]);
    else if (match[1] === 'CERTIFICATE') certificates.push(match[0]);
  }
  return { keys, certificates };
}

const jksMagic = 0xfeedfeed;

function keystoreOptions(
  setting: (key: string) => { key: string; value: string } | undefined,
): SecureContextOptions & { description: string } {
  const type = setting('ssl.keystore.type');
  const location = setting('ssl.keystore.location');
  const chain = setting('ssl.keystore.certificate.chain');
  const inlineKey = setting('ssl.keystore.key');
  const keyPassword = setting('ssl.key.password')?.value;
  const storePassword = setting('ssl.keystore.password');
  if ((chain === undefined) !== (inlineKey === undefined)) {
    throw new ConfigError(
      (chain ?? inlineKey)!.key,
      'ssl.keystore.certificate.chain and ssl.keystore.key must be set together',
    );
  }
  if (chain !== undefined && inlineKey !== undefined) {
    if (location !== undefined) {
      throw new ConfigError(location.key, 'cannot be set together with an inline ssl.keystore.key');
    }
    if (type !== undefined && type.value.toUpperCase() !== 'PEM') {
      throw new ConfigError(type.key, `must be PEM for inline ssl.keystore.key, got '${type.value}'`);
    }
    const certificates = pemBlocks(chain.value).certificates;
    const keys = pemBlocks(inlineKey.value).keys;
    if (certificates.length === 0) throw new ConfigError(chain.key, 'holds no PEM certificate');
    if (keys.length !== 1) throw new ConfigError(inlineKey.key, 'must hold exactly one PEM private key');
    return {
      cert: certificates.join('\n'),
      key: keys[0],
      ...(keyPassword === undefined ? {} : { passphrase: keyPassword }),
      description: `inline PEM keystore (${chain.key})`,
    };
  }
  if (location === undefined) {
    throw new ConfigError(
      'ssl.keystore.location',
      'is required for an SSL or SASL_SSL listener (or inline ssl.keystore.key and ssl.keystore.certificate.chain)',
    );
  }
  const bytes = readFile(location.key, location.value);
  if (bytes.length >= 4 && bytes.readUInt32BE(0) === jksMagic) {
    throw new ConfigError(
      location.key,
      `${location.value} is a Java JKS keystore, which only a JVM reads; convert it with ` +
        '`keytool -importkeystore -deststoretype PKCS12` or use PEM (ssl.keystore.type=PEM)',
    );
  }
  const looksPem = bytes.subarray(0, 64).toString('latin1').includes('-----BEGIN');
  // Kafka's default type is JKS, whose Java loader also reads PKCS12 files; so an unset type is
  // read as the file is: PEM text or a PKCS12 archive.
  const kind = type === undefined ? (looksPem ? 'PEM' : 'PKCS12') : type.value.toUpperCase();
  if (kind === 'PEM') {
    const { keys, certificates } = pemBlocks(bytes.toString('utf8'));
    if (keys.length !== 1) {
      throw new ConfigError(location.key, `${location.value} must hold exactly one PEM private key`);
    }
    if (certificates.length === 0) {
      throw new ConfigError(location.key, `${location.value} holds no PEM certificate`);
    }
    return {
      key: keys[0],
      cert: certificates.join('\n'),
      ...(keyPassword === undefined ? {} : { passphrase: keyPassword }),
      description: `PEM keystore ${location.value}`,
    };
  }
  if (kind === 'PKCS12') {
    return {
      pfx: bytes,
      ...(storePassword === undefined ? {} : { passphrase: storePassword.value }),
      description: `PKCS12 keystore ${location.value}`,
    };
  }
  throw new ConfigError(type!.key, `must be PEM or PKCS12 (JKS only a JVM reads), got '${type!.value}'`);
}

function truststoreCertificates(
  setting: (key: string) => { key: string; value: string } | undefined,
): string[] | undefined {
  const type = setting('ssl.truststore.type');
  const location = setting('ssl.truststore.location');
  const inline = setting('ssl.truststore.certificates');
  if (type !== undefined && type.value.toUpperCase() !== 'PEM') {
    throw new ConfigError(
      type.key,
      `must be PEM, got '${type.value}' (export the CA certificates with \`keytool -exportcert -rfc\`)`,
    );
  }
  if (location !== undefined && inline !== undefined) {
    throw new ConfigError(location.key, 'cannot be set together with ssl.truststore.certificates');
  }
  if (inline !== undefined) {
    const certificates = pemBlocks(inline.value).certificates;
    if (certificates.length === 0) throw new ConfigError(inline.key, 'holds no PEM certificate');
    return certificates;
  }
  if (location === undefined) return undefined;
  const bytes = readFile(location.key, location.value);
  if (bytes.length >= 4 && bytes.readUInt32BE(0) === jksMagic) {
    throw new ConfigError(
      location.key,
      `${location.value} is a Java JKS truststore; export its certificates as PEM with \`keytool -exportcert -rfc\``,
    );
  }
  const certificates = pemBlocks(bytes.toString('utf8')).certificates;
  if (certificates.length === 0) {
    throw new ConfigError(
      location.key,
      `${location.value} holds no PEM certificate (only PEM truststores are read)`,
    );
  }
  return certificates;
}

function versionRange(
  setting: { key: string; value: string } | undefined,
): Pick<SecureContextOptions, 'minVersion' | 'maxVersion'> {
  if (setting === undefined) return { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3' };
  const named = setting.value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  const indexes = named.map((name) => {
    const index = tlsVersions.indexOf(name as TlsVersion);
    if (index < 0) throw new ConfigError(setting.key, `'${name}' is not one of ${tlsVersions.join(', ')}`);
    return index;
  });
  if (indexes.length === 0) throw new ConfigError(setting.key, 'names no protocol');
  const min = Math.min(...indexes);
  const max = Math.max(...indexes);
  if (max - min + 1 !== new Set(indexes).size) {
    throw new ConfigError(setting.key, 'must name consecutive TLS versions (OpenSSL enables a range)');
  }
  return { minVersion: tlsVersions[min]!, maxVersion: tlsVersions[max]! };
}

/** Reads and checks one listener's TLS settings; throws a ConfigError naming every bad key. */
export function listenerTls(raw: ReadonlyMap<string, string>, listenerName: string): ListenerTls {
  const setting = (key: string) => listenerSetting(raw, listenerName, key);
  const problems = new ConfigProblems();
  const keystore = problems.check(() => keystoreOptions(setting));
  const ca = problems.check(() => truststoreCertificates(setting));
  const versions = problems.check(() => versionRange(setting('ssl.enabled.protocols')));
  const clientAuthSetting = setting('ssl.client.auth');
  const clientAuth = (clientAuthSetting?.value.trim().toLowerCase() ?? 'none') as SslClientAuth;
  if (!['required', 'requested', 'none'].includes(clientAuth)) {
    problems.add(
      new ConfigError(
        clientAuthSetting!.key,
        `must be required, requested or none, got '${clientAuthSetting!.value}'`,
      ),
    );
  }
  if (clientAuth !== 'none' && ca === undefined && keystore !== undefined) {
    problems.add(
      new ConfigError(
        clientAuthSetting!.key,
        `is ${clientAuth}, which needs a truststore (ssl.truststore.location or ssl.truststore.certificates) to check client certificates`,
      ),
    );
  }
  const rules = setting('ssl.principal.mapping.rules');
  const principalMapper = problems.check(() => {
    try {
      return SslPrincipalMapper.parse(rules?.value ?? 'DEFAULT');
    } catch (error) {
      throw new ConfigError(rules?.key ?? 'ssl.principal.mapping.rules', (error as Error).message);
    }
  });
  problems.throwIfAny();
  const { description, ...keyMaterial } = keystore!;
  const secureContext: SecureContextOptions = {
    ...keyMaterial,
    ...(ca === undefined ? {} : { ca }),
    ...versions,
  };
  try {
    createSecureContext(secureContext);
  } catch (error) {
    const key =
      setting('ssl.keystore.location')?.key ?? setting('ssl.keystore.key')?.key ?? 'ssl.keystore.location';
    throw new ConfigError(key, `the keystore cannot be used: ${(error as Error).message}`);
  }
  const files = [setting('ssl.keystore.location')?.value, setting('ssl.truststore.location')?.value].filter(
    (path): path is string => path !== undefined,
  );
  return {
    secureContext,
    clientAuth,
    principalMapper: principalMapper!,
    description,
    files,
    reload: () => listenerTls(raw, listenerName),
  };
}

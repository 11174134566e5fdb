import { describe, expect, it } from 'vitest';
import {
  ClientPropertiesError,
  kafkaSecurityConfig,
  parseJaasConfig,
  readClientProperties,
  readToolConfig,
  tlsConnectionOptions,
} from './client-properties.js';
import { parseConnectionFlags } from './connection-flags.js';

const caPem = '-----BEGIN CERTIFICATE-----\nMIIBca\n-----END CERTIFICATE-----\n';
const keyPem = '-----BEGIN PRIVATE KEY-----\nMIIEkey\n-----END PRIVATE KEY-----\n';
const chainPem = '-----BEGIN CERTIFICATE-----\nMIIBleaf\n-----END CERTIFICATE-----\n';

/** A properties file at /p and the files it names, read from memory. */
function read(properties: string, files: Record<string, string> = {}) {
  const all: Record<string, string> = { '/p': properties, ...files };
  return (path: string): Buffer => {
    const text = all[path];
    if (text === undefined) throw new Error(`ENOENT: no such file, open '${path}'`);
    return Buffer.from(text);
  };
}

const scramJaas =
  'sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="al;ce pw";';

describe("Kafka's client properties", () => {
  it('PLAINTEXT without any key', () => {
    expect(readClientProperties('--command-config', '/p', [], read('')).security).toEqual({
      protocol: 'PLAINTEXT',
    });
  });

  it('SASL_SSL with SCRAM-SHA-512: the CA, the key and chain from one PEM keystore, the JAAS login', () => {
    const { security } = readClientProperties(
      '--command-config',
      '/p',
      [],
      read(
        [
          'security.protocol=SASL_SSL',
          'ssl.truststore.type=PEM',
          'ssl.truststore.location=/ca.pem',
          'ssl.keystore.location=/client.pem',
          'sasl.mechanism=SCRAM-SHA-512',
          scramJaas,
        ].join('\n'),
        { '/ca.pem': caPem, '/client.pem': keyPem + chainPem },
      ),
    );
    expect(security.protocol).toBe('SASL_SSL');
    expect(security.sasl).toEqual({ mechanism: 'scram-sha-512', username: 'alice', password: 'al;ce pw' });
    expect(security.tls?.caPem?.toString()).toBe(caPem);
    expect(security.tls?.keyPem?.toString()).toBe(keyPem.trim());
    expect(security.tls?.certificateChainPem?.toString()).toBe(chainPem.trim());
    expect(security.tls?.verifyHostname).toBe(true);
    const config = kafkaSecurityConfig(security);
    expect(config.sasl?.mechanism).toBe('scram-sha-512');
    expect(config.ssl?.ca?.toString()).toBe(caPem);
    expect(config.ssl?.checkServerIdentity).toBeUndefined();
  });

  it('an empty ssl.endpoint.identification.algorithm checks the chain and not the name', () => {
    const { security } = readClientProperties(
      '--command-config',
      '/p',
      [],
      read('security.protocol=SSL\nssl.truststore.location=/ca.pem\nssl.endpoint.identification.algorithm=', {
        '/ca.pem': caPem,
      }),
    );
    expect(security.tls?.verifyHostname).toBe(false);
    expect(security.tls?.caPem?.toString()).toBe(caPem);
    const options = tlsConnectionOptions(security.tls!);
    expect(options.checkServerIdentity?.('any.host', {} as never)).toBeUndefined();
  });

  it('PLAIN over SASL_PLAINTEXT', () => {
    const { security } = readClientProperties(
      '--command-config',
      '/p',
      [],
      read(
        'security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\nsasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=bob password="b";',
      ),
    );
    expect(security).toEqual({
      protocol: 'SASL_PLAINTEXT',
      sasl: { mechanism: 'plain', username: 'bob', password: 'b' },
    });
  });

  it('keeps the settings a tool reads and refuses every other key by name', () => {
    const properties = readClientProperties(
      '--producer.config',
      '/p',
      ['acks', 'linger.ms'],
      read('acks=all\nlinger.ms=5'),
    );
    expect([...properties.others]).toEqual([
      ['acks', 'all'],
      ['linger.ms', '5'],
    ]);
    expect(() =>
      readClientProperties('--producer.config', '/p', ['acks'], read('acks=1\ngroup.id=g\nfoo=1')),
    ).toThrow("--producer.config /p: 'group.id', 'foo' not used by this tool");
  });

  it.each([
    [
      'security.protocol=TLS',
      "security.protocol must be one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL, got 'TLS'",
    ],
    ['ssl.truststore.location=/ca.pem', 'security.protocol PLAINTEXT uses no TLS'],
    ['security.protocol=SSL\nsasl.mechanism=PLAIN', 'security.protocol SSL uses no SASL'],
    ['security.protocol=SSL\nssl.truststore.type=JKS\nssl.truststore.location=/ca.pem', 'only PEM is read'],
    ['security.protocol=SSL\nssl.truststore.location=/missing.pem', 'ssl.truststore.location: ENOENT'],
    ['security.protocol=SSL\nssl.truststore.location=/key.pem', 'the truststore holds no PEM certificate'],
    ['security.protocol=SSL\nssl.keystore.location=/ca.pem', 'the keystore must hold a PEM private key'],
    ['security.protocol=SSL\nssl.endpoint.identification.algorithm=ldap', 'must be https or empty'],
    ['security.protocol=SASL_SSL\n' + scramJaas, 'sasl.mechanism GSSAPI is not supported'],
    ['security.protocol=SASL_SSL\nsasl.mechanism=OAUTHBEARER\n' + scramJaas, 'sasl.mechanism OAUTHBEARER'],
    ['security.protocol=SASL_SSL\nsasl.mechanism=PLAIN', 'sasl.jaas.config is required'],
    [
      'security.protocol=SASL_SSL\nsasl.mechanism=PLAIN\n' + scramJaas,
      'PLAIN takes org.apache.kafka.common.security.plain.PlainLoginModule',
    ],
    [
      'security.protocol=SASL_SSL\nsasl.mechanism=SCRAM-SHA-256\nsasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="a";',
      'needs username="..." and password="..."',
    ],
  ])('refuses %j', (properties, message) => {
    const readFile = read(properties, { '/ca.pem': caPem, '/key.pem': keyPem });
    expect(() => readClientProperties('--command-config', '/p', [], readFile)).toThrow(ClientPropertiesError);
    expect(() => readClientProperties('--command-config', '/p', [], readFile)).toThrow(message);
  });

  it('names the file it cannot read', () => {
    expect(() => readClientProperties('--command-config', '/nope', [], read(''))).toThrow(
      "--command-config /nope: ENOENT: no such file, open '/nope'",
    );
  });
});

describe('sasl.jaas.config', () => {
  it('reads quoted and bare values, escapes and the control flag', () => {
    expect(
      parseJaasConfig(
        'org.apache.kafka.common.security.plain.PlainLoginModule  Required\n username="a b" password=x\\y extra="=;\\"";',
      ),
    ).toEqual({
      loginModule: 'org.apache.kafka.common.security.plain.PlainLoginModule',
      flag: 'required',
      options: new Map([
        ['username', 'a b'],
        ['password', 'x\\y'],
        ['extra', '=;"'],
      ]),
    });
  });

  it.each([
    ['', 'expected "<LoginModule> required'],
    ['M required username="a"', 'must end with ;'],
    ['M always username="a";', 'expected a control flag'],
    ['M required username "a";', "expected key=value, got 'username \"a'"],
    ['M required username="a;', 'a quoted value is not closed'],
  ])('refuses %j', (text, message) => {
    expect(parseJaasConfig(text)).toContain(message);
  });
});

describe('--command-config in the admin tools', () => {
  it('reads the file as the flags are parsed, and a bad file is a usage error naming it', () => {
    const flags = new Map([
      ['--bootstrap-server', 'h:9092'],
      ['--command-config', '/definitely/not/here.properties'],
    ]);
    expect(parseConnectionFlags(flags, 1_000, 10_000)).toContain(
      '--command-config /definitely/not/here.properties: ENOENT',
    );
    expect(parseConnectionFlags(new Map([['--bootstrap-server', 'h:9092']]), 1_000, 10_000)).toMatchObject({
      security: { protocol: 'PLAINTEXT' },
    });
  });
});

describe('--producer.config / --consumer.config', () => {
  it('takes --command-config as the same flag, and refuses both at once', () => {
    expect(readToolConfig(new Map(), '--consumer.config', [])).toMatchObject({
      security: { protocol: 'PLAINTEXT' },
    });
    expect(
      readToolConfig(new Map([['--command-config', '/not/there.properties']]), '--consumer.config', []),
    ).toContain('--command-config /not/there.properties: ENOENT');
    expect(
      readToolConfig(
        new Map([
          ['--command-config', 'a'],
          ['--consumer.config', 'b'],
        ]),
        '--consumer.config',
        [],
      ),
    ).toBe('give --consumer.config or --command-config (the same file), not both');
  });
});

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseJaasFile } from '../security/jaas-config.js';
import { brokerConfigFrom, loadBrokerConfig } from './broker-config.js';
import { ConfigError } from './config-def.js';

const base = {
  'node.id': '1',
  'process.roles': 'broker,controller',
  'cluster.id': 'gregor-test',
  'controller.quorum.voters': '1@127.0.0.1:9192',
  'log.dirs': '/tmp/gregor-sasl-config',
  listeners: 'PLAINTEXT://:9092,INTERNAL://:9093,CONTROLLER://:9192',
  'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,INTERNAL:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT',
};
const jaas = 'org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="alice-secret";';

function config(overrides: Record<string, string>) {
  return brokerConfigFrom(new Map(Object.entries({ ...base, ...overrides })));
}

function problems(overrides: Record<string, string>): string {
  try {
    config(overrides);
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('SASL listeners from Kafka keys', () => {
  it('reads the mechanisms and the PLAIN users of each SASL listener, the listener keys first', () => {
    const parsed = config({
      'sasl.enabled.mechanisms': 'SCRAM-SHA-512',
      'listener.name.internal.sasl.enabled.mechanisms': 'PLAIN,SCRAM-SHA-256',
      'listener.name.internal.plain.sasl.jaas.config': jaas,
    });
    const internal = parsed.listenerSasl.get('INTERNAL')!;
    expect(internal.mechanisms).toEqual(['PLAIN', 'SCRAM-SHA-256']);
    expect([...internal.plainUsers]).toEqual([['alice', 'alice-secret']]);
    expect(parsed.listenerSasl.has('PLAINTEXT')).toBe(false);
    expect(parsed.keysWithoutEffect).toEqual([]);
  });

  it('says which SASL keys do nothing when no listener they apply to is SASL', () => {
    const parsed = config({
      'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT',
      'sasl.enabled.mechanisms': 'PLAIN',
    });
    expect(parsed.keysWithoutEffect).toEqual([
      { key: 'sasl.enabled.mechanisms', reason: 'no listener it applies to is SASL_PLAINTEXT or SASL_SSL' },
    ]);
  });

  it('refuses what cannot work', () => {
    expect(problems({})).toMatch(
      /sasl.enabled.mechanisms: listener INTERNAL is SASL, and Kafka's default mechanism GSSAPI/,
    );
    expect(problems({ 'sasl.enabled.mechanisms': 'GSSAPI' })).toMatch(/GSSAPI is not supported/);
    expect(problems({ 'sasl.enabled.mechanisms': 'PLAIN' })).toMatch(
      /listener.name.internal.plain.sasl.jaas.config: PLAIN is enabled on listener INTERNAL but no JAAS config/,
    );
    expect(
      problems({
        'sasl.enabled.mechanisms': 'PLAIN',
        'sasl.jaas.config': 'org.apache.kafka.common.security.scram.ScramLoginModule required;',
      }),
    ).toMatch(/sasl.jaas.config: PLAIN needs org.apache.kafka.common.security.plain.PlainLoginModule/);
    expect(
      problems({
        'sasl.enabled.mechanisms': 'PLAIN',
        'sasl.jaas.config': 'org.apache.kafka.common.security.plain.PlainLoginModule required username="a";',
      }),
    ).toMatch(/defines no user/);
  });

  it('reads connections.max.reauth.ms per mechanism, the listener and mechanism key first, as Kafka', () => {
    const parsed = config({
      'listener.name.internal.sasl.enabled.mechanisms': 'PLAIN,SCRAM-SHA-256,SCRAM-SHA-512',
      'listener.name.internal.plain.sasl.jaas.config': jaas,
      'connections.max.reauth.ms': '3600000',
      'listener.name.internal.connections.max.reauth.ms': '600000',
      'listener.name.internal.scram-sha-512.connections.max.reauth.ms': '30000',
    });
    expect([...parsed.listenerSasl.get('INTERNAL')!.connectionsMaxReauthMs]).toEqual([
      ['PLAIN', 600_000],
      ['SCRAM-SHA-256', 600_000],
      ['SCRAM-SHA-512', 30_000],
    ]);
    expect(parsed.keysWithoutEffect).toEqual([]);
    const defaults = config({
      'sasl.enabled.mechanisms': 'PLAIN',
      'sasl.jaas.config': jaas,
      'connections.max.reauth.ms': '-1',
    });
    expect([...defaults.listenerSasl.get('INTERNAL')!.connectionsMaxReauthMs]).toEqual([['PLAIN', 0]]);
  });
});

describe('PLAIN users from the JAAS file KAFKA_OPTS names', () => {
  const jaasFile = `KafkaServer {
  org.apache.kafka.common.security.plain.PlainLoginModule required
    username="admin" password="admin-secret" user_admin="admin-secret" user_alice="alice-secret";
};
`;
  const staticJaas = (text: string) => ({ path: '/etc/kafka/jaas.conf', file: parseJaasFile(text) });
  const problemsWith = (overrides: Record<string, string>, text: string): string => {
    try {
      brokerConfigFrom(new Map(Object.entries({ ...base, ...overrides })), staticJaas(text));
    } catch (error) {
      if (error instanceof ConfigError) return error.message;
      throw error;
    }
    throw new Error('expected a ConfigError');
  };

  it('takes the users of the KafkaServer section when no sasl.jaas.config key names them', () => {
    const parsed = brokerConfigFrom(
      new Map(Object.entries({ ...base, 'sasl.enabled.mechanisms': 'PLAIN' })),
      staticJaas(jaasFile),
    );
    expect([...parsed.listenerSasl.get('INTERNAL')!.plainUsers]).toEqual([
      ['admin', 'admin-secret'],
      ['alice', 'alice-secret'],
    ]);
  });

  it("takes the listener's own section first, and a sasl.jaas.config key over the file", () => {
    const withListenerSection = `${jaasFile}internal.KafkaServer {
  org.apache.kafka.common.security.plain.PlainLoginModule required user_bob="bob-secret";
};`;
    const fromSection = brokerConfigFrom(
      new Map(Object.entries({ ...base, 'sasl.enabled.mechanisms': 'PLAIN' })),
      staticJaas(withListenerSection),
    );
    expect([...fromSection.listenerSasl.get('INTERNAL')!.plainUsers]).toEqual([['bob', 'bob-secret']]);
    const fromKey = brokerConfigFrom(
      new Map(
        Object.entries({
          ...base,
          'sasl.enabled.mechanisms': 'PLAIN',
          'listener.name.internal.plain.sasl.jaas.config': jaas,
        }),
      ),
      staticJaas(withListenerSection),
    );
    expect([...fromKey.listenerSasl.get('INTERNAL')!.plainUsers]).toEqual([['alice', 'alice-secret']]);
  });

  it('gives OAUTHBEARER its OAuthBearerLoginModule options from the same section', () => {
    const parsed = brokerConfigFrom(
      new Map(Object.entries({ ...base, 'sasl.enabled.mechanisms': 'PLAIN,OAUTHBEARER' })),
      staticJaas(`KafkaServer {
  org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="alice-secret";
  org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required
    unsecuredValidatorRequiredScope="kafka";
};`),
    );
    const internal = parsed.listenerSasl.get('INTERNAL')!;
    expect([...internal.plainUsers.keys()]).toEqual(['alice']);
    expect(internal.oauthBearer?.requiredScope).toEqual(['kafka']);
  });

  it('names the file when it cannot give the users', () => {
    expect(problemsWith({ 'sasl.enabled.mechanisms': 'PLAIN' }, 'Client { M required; };')).toMatch(
      /PLAIN is enabled on listener INTERNAL but no JAAS config names its users .*, and \/etc\/kafka\/jaas.conf has neither a internal.KafkaServer nor a KafkaServer section/,
    );
    expect(
      problemsWith(
        { 'sasl.enabled.mechanisms': 'PLAIN' },
        'KafkaServer { org.apache.kafka.common.security.scram.ScramLoginModule required; };',
      ),
    ).toMatch(
      /java.security.auth.login.config: section KafkaServer of \/etc\/kafka\/jaas.conf has no org.apache.kafka.common.security.plain.PlainLoginModule entry/,
    );
    expect(
      problemsWith(
        { 'sasl.enabled.mechanisms': 'PLAIN' },
        'KafkaServer { org.apache.kafka.common.security.plain.PlainLoginModule required username="a"; };',
      ),
    ).toMatch(/entry of \/etc\/kafka\/jaas.conf defines no user/);
  });

  it('loadBrokerConfig reads the file from KAFKA_OPTS, and refuses one it cannot read or parse', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gregor-jaas-'));
    const path = join(dir, 'kafka_server_jaas.conf');
    writeFileSync(path, jaasFile);
    const environment = Object.fromEntries(
      Object.entries({ ...base, 'sasl.enabled.mechanisms': 'PLAIN' }).map(([key, value]) => [
        `GREGOR_CFG_${key.replaceAll('.', '_').toUpperCase()}`,
        value,
      ]),
    );
    const loaded = loadBrokerConfig(undefined, {
      ...environment,
      KAFKA_OPTS: `-Xmx1g -Djava.security.auth.login.config=${path}`,
    });
    expect([...loaded.listenerSasl.get('INTERNAL')!.plainUsers.keys()]).toEqual(['admin', 'alice']);
    expect(() =>
      loadBrokerConfig(undefined, {
        ...environment,
        KAFKA_OPTS: `-Djava.security.auth.login.config=${join(dir, 'missing.conf')}`,
      }),
    ).toThrow(
      /java.security.auth.login.config \(from KAFKA_OPTS\): cannot read the JAAS file .*missing.conf/,
    );
    const broken = join(dir, 'broken.conf');
    writeFileSync(
      broken,
      'KafkaServer { org.apache.kafka.common.security.plain.PlainLoginModule required };',
    );
    expect(() =>
      loadBrokerConfig(undefined, {
        ...environment,
        KAFKA_OPTS: `-Djava.security.auth.login.config=${broken}`,
      }),
    ).toThrow(/broken.conf: in section KafkaServer: a JAAS entry ends with a semicolon/);
  });
});

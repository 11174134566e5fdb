import { describe, expect, it } from 'vitest';
import { brokerConfigFrom } from './broker-config.js';
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

import { describe, expect, it } from 'vitest';
import {
  adminPort,
  type ClientSecurity,
  clientPropertiesText,
  kafkajsSecurity,
  librdkafkaSecurityConfig,
  nodeListenerProperties,
  securityBootstrapCommands,
} from './security.js';

const certificates = {
  caCertificate: '/w/certs/ca.pem',
  keystore: (node: number) => `/w/certs/node-${node}.keystore.pem`,
};
const listeners = { node: 2, address: '127.0.1.2', kafkaPort: 9092, controllerPort: 9093 };
const security: ClientSecurity = {
  mode: 'sasl_ssl',
  caCertificate: '/w/certs/ca.pem',
  username: 'chaos',
  password: 'pw-1',
};

/** server.properties lines as a map. */
function keys(lines: readonly string[]): Map<string, string> {
  return new Map(lines.map((line) => line.split(/=(.*)/s, 2) as [string, string]));
}

describe('security settings of a campaign', () => {
  it('leaves a plaintext campaign as it was: one PLAINTEXT Kafka listener, no TLS, no authorizer', () => {
    const properties = keys(nodeListenerProperties('plaintext', listeners, undefined));
    expect(properties).toEqual(
      new Map([
        ['listeners', 'PLAINTEXT://127.0.1.2:9092,CONTROLLER://127.0.1.2:9093'],
        ['advertised.listeners', 'PLAINTEXT://127.0.1.2:9092'],
      ]),
    );
    expect(librdkafkaSecurityConfig(undefined)).toEqual({});
    expect(clientPropertiesText(undefined)).toBe('');
  });

  it('gives a sasl_ssl node SASL_SSL clients, a mutual-TLS CONTROLLER listener with its own keystore, and ACLs', () => {
    const properties = keys(nodeListenerProperties('sasl_ssl', listeners, certificates));
    expect(properties.get('listeners')).toBe(
      'SASL_SSL://127.0.1.2:9092,CONTROLLER://127.0.1.2:9093,ADMIN://127.0.0.1:9192',
    );
    expect(properties.get('advertised.listeners')).toBe('SASL_SSL://127.0.1.2:9092,ADMIN://127.0.0.1:9192');
    expect(properties.get('listener.security.protocol.map')).toBe(
      'SASL_SSL:SASL_SSL,CONTROLLER:SSL,ADMIN:PLAINTEXT',
    );
    expect(properties.get('ssl.keystore.location')).toBe('/w/certs/node-2.keystore.pem');
    expect(properties.get('ssl.truststore.location')).toBe('/w/certs/ca.pem');
    expect(properties.get('listener.name.controller.ssl.client.auth')).toBe('required');
    expect(properties.get('listener.name.sasl_ssl.sasl.enabled.mechanisms')).toBe('SCRAM-SHA-512');
    expect(properties.get('authorizer.class.name')).toBe(
      'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
    );
    // Only the loopback ADMIN listener's unauthenticated principal is a super user: the workload's
    // user is not, it has ACLs.
    expect(properties.get('super.users')).toBe('User:ANONYMOUS');
    expect(() => nodeListenerProperties('sasl_ssl', listeners, undefined)).toThrow(/certificates/);
  });

  it('creates the workload user with SCRAM-SHA-512 and its ACLs through the ADMIN listener', () => {
    const commands = securityBootstrapCommands(security, 'chaos', 1);
    const server = ['--bootstrap-server', `127.0.0.1:${adminPort(1)}`];
    expect(commands[0]).toEqual([
      'users',
      ...server,
      '--alter',
      '--entity-type',
      'users',
      '--entity-name',
      'chaos',
      '--add-config',
      'SCRAM-SHA-512=[iterations=8192,password=pw-1]',
    ]);
    expect(commands.slice(1).map((command) => command.slice(0, 3))).toEqual([
      ['acls', ...server],
      ['acls', ...server],
      ['acls', ...server],
    ]);
    expect(commands.slice(1).map((command) => command.slice(3).join(' '))).toEqual([
      '--add --allow-principal User:chaos --operation All --topic chaos',
      '--add --allow-principal User:chaos --operation All --group *',
      '--add --allow-principal User:chaos --operation All --transactional-id *',
    ]);
  });

  it('configures librdkafka and kafkajs clients for SASL_SSL with SCRAM-SHA-512 and the CA', () => {
    expect(librdkafkaSecurityConfig(security)).toEqual({
      'security.protocol': 'SASL_SSL',
      'sasl.mechanism': 'SCRAM-SHA-512',
      'sasl.username': 'chaos',
      'sasl.password': 'pw-1',
      'ssl.ca.location': '/w/certs/ca.pem',
    });
    expect(clientPropertiesText(security)).toBe(
      'security.protocol=SASL_SSL\nsasl.mechanism=SCRAM-SHA-512\nsasl.username=chaos\nsasl.password=pw-1\nssl.ca.location=/w/certs/ca.pem\n',
    );
    expect(kafkajsSecurity(security, 'PEM')).toEqual({
      ssl: { ca: ['PEM'] },
      sasl: { mechanism: 'scram-sha-512', username: 'chaos', password: 'pw-1' },
    });
  });
});

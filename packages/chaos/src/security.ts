// A campaign with security on (`--security sasl_ssl`), as its pure settings: each node's Kafka
// keys, the librdkafka and kafkajs client settings, and the operator commands (`gregor users`,
// `gregor acls`) that create the workload's SCRAM user and its ACLs. The certificates themselves
// are made with openssl (driver/certificates.ts).
//
// Every node: its Kafka listener SASL_SSL offering SCRAM-SHA-512 only; its CONTROLLER listener SSL
// with ssl.client.auth=required (the nodes' gRPC over mutual TLS, each node's certificate naming it
// CN=node-<id>); the StandardAuthorizer. The workload's principal (User:chaos) is not a super user:
// it gets ACLs on what the workloads touch (the topic, every group, every transactional id), so the
// authorizer is on every request path the faults hit. SCRAM credentials live in the metadata log,
// so a first user can only be created through a listener that needs none: each node has a PLAINTEXT
// `ADMIN` listener bound to 127.0.0.1 (never advertised to SASL_SSL clients, who are told their own
// listener's addresses), whose principal User:ANONYMOUS is the one super user. Kafka stores the
// first credentials at format time instead (`kafka-storage.sh format --add-scram`, KIP-900), which
// Gregor does not have.

export const securityModes = ['plaintext', 'sasl_ssl'] as const;
export type SecurityMode = (typeof securityModes)[number];

/** The SCRAM user every workload client authenticates as. */
export const workloadUser = 'chaos';
export const scramMechanism = 'SCRAM-SHA-512';
/** kafka-configs.sh's usual iteration count for SCRAM-SHA-512 credentials. */
const scramIterations = 8192;
export const adminListener = 'ADMIN';
/** Node N's ADMIN listener: 127.0.0.1:(adminPortBase + N). */
export const adminPortBase = 9190;
export const authorizerClass = 'org.apache.kafka.metadata.authorizer.StandardAuthorizer';

/** Where a secured campaign's certificates are (PEM files). */
export interface CertificateFiles {
  readonly caCertificate: string;
  /** Node N's PEM keystore: its key and its certificate (CN=node-N, SAN IP 127.0.1.N). */
  keystore(node: number): string;
}

/** What every client of a secured campaign needs. */
export interface ClientSecurity {
  readonly mode: 'sasl_ssl';
  readonly caCertificate: string;
  readonly username: string;
  readonly password: string;
}

export interface NodeListeners {
  readonly node: number;
  /** The address the node's Kafka and CONTROLLER listeners bind and advertise. */
  readonly address: string;
  readonly kafkaPort: number;
  readonly controllerPort: number;
}

export function adminPort(node: number): number {
  return adminPortBase + node;
}

/** The node's listener keys (server.properties lines) for the mode. */
export function nodeListenerProperties(
  mode: SecurityMode,
  listeners: NodeListeners,
  certificates: CertificateFiles | undefined,
): string[] {
  const { node, address, kafkaPort, controllerPort } = listeners;
  if (mode === 'plaintext')
    return [
      `listeners=PLAINTEXT://${address}:${kafkaPort},CONTROLLER://${address}:${controllerPort}`,
      `advertised.listeners=PLAINTEXT://${address}:${kafkaPort}`,
    ];
  if (certificates === undefined) throw new Error('--security sasl_ssl needs certificates');
  const admin = `${adminListener}://127.0.0.1:${adminPort(node)}`;
  return [
    `listeners=SASL_SSL://${address}:${kafkaPort},CONTROLLER://${address}:${controllerPort},${admin}`,
    `advertised.listeners=SASL_SSL://${address}:${kafkaPort},${admin}`,
    `listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:SSL,${adminListener}:PLAINTEXT`,
    'ssl.keystore.type=PEM',
    `ssl.keystore.location=${certificates.keystore(node)}`,
    'ssl.truststore.type=PEM',
    `ssl.truststore.location=${certificates.caCertificate}`,
    'listener.name.controller.ssl.client.auth=required',
    `listener.name.sasl_ssl.sasl.enabled.mechanisms=${scramMechanism}`,
    `authorizer.class.name=${authorizerClass}`,
    'super.users=User:ANONYMOUS',
    'allow.everyone.if.no.acl.found=false',
  ];
}

/**
 * The operator's commands, as `gregor` arguments, that create the workload user and its ACLs through
 * a node's ADMIN listener: the topic (everything, creating it included), every group (the members,
 * the consume-transform-produce group, the readers' unused group ids) and every transactional id.
 */
export function securityBootstrapCommands(security: ClientSecurity, topic: string, node: number): string[][] {
  const server = ['--bootstrap-server', `127.0.0.1:${adminPort(node)}`];
  const principal = `User:${security.username}`;
  return [
    [
      'users',
      ...server,
      '--alter',
      '--entity-type',
      'users',
      '--entity-name',
      security.username,
      '--add-config',
      `${scramMechanism}=[iterations=${scramIterations},password=${security.password}]`,
    ],
    ['acls', ...server, '--add', '--allow-principal', principal, '--operation', 'All', '--topic', topic],
    ['acls', ...server, '--add', '--allow-principal', principal, '--operation', 'All', '--group', '*'],
    [
      'acls',
      ...server,
      '--add',
      '--allow-principal',
      principal,
      '--operation',
      'All',
      '--transactional-id',
      '*',
    ],
  ];
}

/** librdkafka's settings (a client properties file, as kcat -F reads) for the mode. */
export function librdkafkaSecurityConfig(security: ClientSecurity | undefined): Record<string, string> {
  if (security === undefined) return {};
  return {
    'security.protocol': 'SASL_SSL',
    'sasl.mechanism': scramMechanism,
    'sasl.username': security.username,
    'sasl.password': security.password,
    'ssl.ca.location': security.caCertificate,
  };
}

export function clientPropertiesText(security: ClientSecurity | undefined): string {
  return Object.entries(librdkafkaSecurityConfig(security))
    .map(([key, value]) => `${key}=${value}\n`)
    .join('');
}

/** kafkajs's `ssl` and `sasl` (Gregor's own client takes the same), given the CA's PEM text. */
export interface KafkajsSecurity {
  readonly ssl: { readonly ca: string[] };
  readonly sasl: {
    readonly mechanism: 'scram-sha-512';
    readonly username: string;
    readonly password: string;
  };
}

export function kafkajsSecurity(security: ClientSecurity, caPem: string): KafkajsSecurity {
  return {
    ssl: { ca: [caPem] },
    sasl: { mechanism: 'scram-sha-512', username: security.username, password: security.password },
  };
}

/** What the clients and nodes speak, for the progress line and the report. */
export function describeSecurity(mode: SecurityMode): string {
  return mode === 'plaintext'
    ? 'PLAINTEXT clients and nodes, no authorizer'
    : `clients over SASL_SSL (${scramMechanism}) as User:${workloadUser} with ACLs, the nodes' gRPC over mutual TLS (CONTROLLER:SSL, ssl.client.auth=required)`;
}

// One connection from a gregor tool to a broker's Kafka listener, secured as the tool's properties
// file says (client-properties.ts): TLS from the first byte for SSL and SASL_SSL, then for SASL
// ApiVersions (to learn the SaslAuthenticate version) and the SASL exchange, before the tool's own
// requests, as Kafka's clients do.

import { authenticateSasl, KafkaConnection, KafkaConnectionError } from '@gregor/client';
import { ApiKey, apiSupport } from '@gregor/protocol';
import { type ClientSecurity, plaintextSecurity, tlsConnectionOptions } from './client-properties.js';

export interface CliConnectionOptions {
  readonly host: string;
  readonly port: number;
  readonly clientId: string;
  /** Bounds the connect and each step of the SASL exchange. */
  readonly timeoutMs: number;
  readonly security?: ClientSecurity;
}

/** SaslAuthenticate v2 is the newest Kafka defines; a broker speaking less gets its own newest. */
const saslAuthenticateVersionPreferred = 2;

export async function openCliConnection(options: CliConnectionOptions): Promise<KafkaConnection> {
  const security = options.security ?? plaintextSecurity;
  const connection = await KafkaConnection.open({
    host: options.host,
    port: options.port,
    clientId: options.clientId,
    connectTimeoutMs: options.timeoutMs,
    ...(security.tls === undefined ? {} : { ssl: tlsConnectionOptions(security.tls) }),
  });
  if (security.sasl === undefined) return connection;
  try {
    const versions = await connection.call(ApiKey.ApiVersions, 0, {}, options.timeoutMs);
    const brokerMax = versions.apiKeys.find((entry) => entry.apiKey === ApiKey.SaslAuthenticate)?.maxVersion;
    if (brokerMax === undefined) {
      throw new Error(
        `${options.host}:${options.port} does not speak SaslAuthenticate (is it a SASL listener?)`,
      );
    }
    const ours = apiSupport(ApiKey.SaslAuthenticate)?.maxVersion ?? 0;
    await authenticateSasl(connection, security.sasl, {
      broker: `${options.host}:${options.port}`,
      authenticateVersion: Math.min(saslAuthenticateVersionPreferred, ours, brokerMax),
      timeoutMs: options.timeoutMs,
    });
    return connection;
  } catch (error) {
    connection.close();
    // A refused login or a listener without SASL fails the connection, as a refused connect does:
    // every tool reports it as `Error: <message>` with exit code 1.
    throw new KafkaConnectionError((error as Error).message);
  }
}

/** The first of `addresses` that accepts a connection (in order), or an error naming each failure. */
export async function openFirstReachable(
  addresses: readonly { readonly host: string; readonly port: number }[],
  options: Omit<CliConnectionOptions, 'host' | 'port'>,
): Promise<KafkaConnection> {
  const failures: string[] = [];
  for (const address of addresses) {
    try {
      return await openCliConnection({ ...options, host: address.host, port: address.port });
    } catch (error) {
      failures.push(`${address.host}:${address.port}: ${(error as Error).message}`);
    }
  }
  throw new KafkaConnectionError(`no bootstrap server reachable (${failures.join('; ')})`);
}

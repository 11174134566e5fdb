// One connection from a gregor tool to a broker's Kafka listener, secured as the tool's properties
// file says (client-properties.ts): TLS from the first byte for SSL and SASL_SSL, then for SASL
// ApiVersions (to learn the SaslAuthenticate version) and the SASL exchange, before the tool's own
// requests, as Kafka's clients do.

import { authenticateSasl, KafkaConnection, KafkaConnectionError } from '@gregor/client';
import { ApiKey, apiSupport } from '@gregor/protocol';
import { type ClientSecurity, plaintextSecurity, tlsConnectionOptions } from './client-properties.js';
import type { TextOutput } from './dump-log.js';

/** A tool's exit code when the cluster refused or could not be reached (the message is on stderr). */
export const failureExitCode = 1;

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

/**
 * A connection a tool keeps for several requests: opened on first use, and opened again once the
 * broker closed it. A broker closes a connection after a Metadata answer it gave without its leader
 * lease (so that the client asks elsewhere), which a failover can bring about between two requests.
 */
export class ReopeningConnection {
  private current: KafkaConnection | undefined;

  constructor(
    private readonly open: () => Promise<KafkaConnection>,
    opened?: KafkaConnection,
  ) {
    this.current = opened;
  }

  async get(): Promise<KafkaConnection> {
    if (this.current === undefined || this.current.isClosed) this.current = await this.open();
    return this.current;
  }

  close(): void {
    this.current?.close();
  }
}

/** The first of `addresses` that accepts a connection (in order), or an error naming each failure. */
export function openFirstReachable(
  addresses: readonly { readonly host: string; readonly port: number }[],
  options: Omit<CliConnectionOptions, 'host' | 'port'>,
): Promise<KafkaConnection> {
  return connectFirstReachable(addresses, (host, port) => openCliConnection({ ...options, host, port }));
}

/**
 * What `connect` gives for the first of `addresses` it reaches (in order); when none answers, a
 * KafkaConnectionError naming each address and its failure.
 */
export async function connectFirstReachable<T>(
  addresses: readonly { readonly host: string; readonly port: number }[],
  connect: (host: string, port: number) => Promise<T>,
): Promise<T> {
  const failures: string[] = [];
  for (const address of addresses) {
    try {
      return await connect(address.host, address.port);
    } catch (error) {
      failures.push(`${address.host}:${address.port}: ${(error as Error).message}`);
    }
  }
  throw new KafkaConnectionError(`no bootstrap server reachable (${failures.join('; ')})`);
}

/**
 * A connect, TLS or SASL failure, or a request left unanswered: a KafkaConnectionError, known by its
 * name (a tool may hold another copy of @gregor/client's class than the one that threw).
 */
export function isConnectionFailure(error: unknown): error is Error {
  return error instanceof Error && error.name === 'KafkaConnectionError';
}

/**
 * Runs a tool's `body` on what `open` connects (one connection, a GroupsCluster, a pool), closed at
 * the end whatever happens. A connection failure, opening or later, and an error of one of
 * `reportedErrors` (the tool's own expected failures) is written to `err` as `Error: <message>` and
 * gives exit code 1; any other error is a bug and is rethrown.
 */
export async function withCliConnection<T extends { close(): void }>(
  open: () => Promise<T>,
  err: TextOutput,
  body: (connection: T) => Promise<number>,
  reportedErrors: readonly (abstract new (...args: never[]) => Error)[] = [],
): Promise<number> {
  let connection: T | undefined;
  try {
    connection = await open();
    return await body(connection);
  } catch (error) {
    if (!isConnectionFailure(error) && !reportedErrors.some((type) => error instanceof type)) throw error;
    err.write(`Error: ${(error as Error).message}\n`);
    return failureExitCode;
  } finally {
    connection?.close();
  }
}

/**
 * A failure of a kafkajs-based tool (produce, consume, perf-test) to report rather than crash on:
 * kafkajs's own errors (KafkaJS*) and a KafkaConnectionError.
 */
export function isKafkaClientFailure(error: unknown): error is Error {
  return error instanceof Error && /^KafkaJS|^KafkaConnection/.test(error.name);
}

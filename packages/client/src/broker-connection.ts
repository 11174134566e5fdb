// One broker as the client sees it: a pipelined KafkaConnection plus the API versions both sides
// speak (ApiVersions at connect), so each request goes at the highest version both support. With
// `sasl` the connection authenticates right after ApiVersions, before any other request.

import type { ConnectionOptions } from 'node:tls';
import { ApiKey, apiSupport, type RequestInput, type SupportedApiKey } from '@gregor/protocol';
import { KafkaConnection, KafkaConnectionError } from './connection.js';
import { KafkaJSConnectionError, KafkaJSError, KafkaJSSASLAuthenticationError } from './errors.js';
import type { NetworkInstrumentation } from './instrumentation.js';
import { authenticate, type SASLOptions } from './sasl/sasl-authenticator.js';

export interface BrokerAddress {
  readonly host: string;
  readonly port: number;
}

export function parseBrokerAddress(address: string): BrokerAddress {
  const colon = address.lastIndexOf(':');
  const port = Number(address.slice(colon + 1));
  if (colon <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new KafkaJSError(`broker address "${address}" is not host:port`);
  }
  return { host: address.slice(0, colon).replace(/^\[|\]$/g, ''), port };
}

export class BrokerConnection {
  private constructor(
    readonly address: BrokerAddress,
    private readonly connection: KafkaConnection,
    private readonly brokerMaxVersions: ReadonlyMap<number, number>,
    private readonly requestTimeoutMs: number,
  ) {}

  static async open(
    address: BrokerAddress,
    options: {
      readonly clientId: string;
      readonly connectionTimeoutMs: number;
      readonly requestTimeoutMs: number;
      readonly ssl?: boolean | ConnectionOptions;
      readonly sasl?: SASLOptions;
      readonly instrumentation?: NetworkInstrumentation;
    },
  ): Promise<BrokerConnection> {
    let connection: KafkaConnection;
    try {
      connection = await KafkaConnection.open({
        host: address.host,
        port: address.port,
        clientId: options.clientId,
        connectTimeoutMs: options.connectionTimeoutMs,
        ssl: options.ssl,
        // As Kafka's clients: a broker may write fields this client does not know.
        ignoreTrailingResponseBytes: true,
        instrumentation: options.instrumentation,
      });
    } catch (error) {
      throw new KafkaJSConnectionError((error as Error).message, { cause: error });
    }
    try {
      // v0 is understood by every broker; it lists what the broker speaks.
      const versions = await connection.call(ApiKey.ApiVersions, 0, {}, options.requestTimeoutMs);
      const brokerMax = new Map(versions.apiKeys.map((entry) => [entry.apiKey, entry.maxVersion]));
      const broker = new BrokerConnection(address, connection, brokerMax, options.requestTimeoutMs);
      if (options.sasl !== undefined) {
        await authenticate(connection, options.sasl, {
          broker: `${address.host}:${address.port}`,
          authenticateVersion: broker.version(ApiKey.SaslAuthenticate, 2),
          timeoutMs: options.requestTimeoutMs,
        });
      }
      return broker;
    } catch (error) {
      connection.close();
      // Refused credentials, or a broker without SaslAuthenticate: trying again will not help.
      if (error instanceof KafkaJSSASLAuthenticationError) throw error;
      if (error instanceof KafkaJSError && !error.retriable) throw error;
      throw new KafkaJSConnectionError(
        `${options.sasl === undefined ? 'ApiVersions' : 'ApiVersions and SASL'} to ${address.host}:${address.port}: ${(error as Error).message}`,
      );
    }
  }

  get closed(): boolean {
    return this.connection.isClosed;
  }

  /** The highest version of `apiKey` both sides speak, at most `preferred`. */
  version(apiKey: SupportedApiKey, preferred: number): number {
    const ours = Math.min(preferred, apiSupport(apiKey)?.maxVersion ?? 0);
    const theirs = this.brokerMaxVersions.get(apiKey);
    if (theirs === undefined) {
      throw new KafkaJSError(
        `broker ${this.address.host}:${this.address.port} does not support api ${apiKey}`,
      );
    }
    return Math.min(ours, theirs);
  }

  /** Sends a request at the negotiated version; connection failures become retriable errors. */
  async send<K extends SupportedApiKey>(
    apiKey: K,
    preferredVersion: number,
    body: RequestInput<K>,
    timeoutMs = this.requestTimeoutMs,
  ) {
    const version = this.version(apiKey, preferredVersion);
    try {
      return { version, body: await this.connection.call(apiKey, version, body, timeoutMs) };
    } catch (error) {
      if (error instanceof KafkaConnectionError) {
        throw new KafkaJSConnectionError(`${this.address.host}:${this.address.port}: ${error.message}`, {
          cause: error,
        });
      }
      throw error;
    }
  }

  /** Produce with acks=0: no response comes back. */
  sendOneWay<K extends SupportedApiKey>(apiKey: K, preferredVersion: number, body: RequestInput<K>): void {
    this.connection.sendOneWay(apiKey, this.version(apiKey, preferredVersion), body);
  }

  close(): void {
    this.connection.close();
  }
}

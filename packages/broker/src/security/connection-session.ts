// What a connection has established about its client: the listener's security protocol and the
// principal. TLS sets the principal when the handshake completes (before the first request);
// on SASL listeners it stays unauthenticated until SaslAuthenticate succeeds.

import type { SecurityProtocol } from '../config/broker-config.js';
import { anonymousPrincipal, type KafkaPrincipal } from './kafka-principal.js';
import type { SaslExchange } from './sasl-exchange.js';

/**
 * Where a SASL connection is, as Kafka's SaslServerAuthenticator: waiting for SaslHandshake (only
 * ApiVersions besides), exchanging tokens in SaslAuthenticate requests (handshake v1) or as bare
 * frames (handshake v0), authenticated, or failed (the connection closes after the answer).
 */
export type SaslState = 'handshake' | 'authenticate' | 'raw-tokens' | 'complete' | 'failed';

export class ConnectionSession {
  private authenticatedAs: KafkaPrincipal | undefined;
  private sasl: SaslState;
  private exchangeInProgress: SaslExchange | undefined;

  constructor(
    readonly securityProtocol: SecurityProtocol,
    /** The principal TLS established (ANONYMOUS without a client certificate). */
    readonly transportPrincipal: KafkaPrincipal = anonymousPrincipal,
  ) {
    this.sasl = this.needsSasl ? 'handshake' : 'complete';
    if (!this.needsSasl) this.authenticatedAs = transportPrincipal;
  }

  get saslState(): SaslState {
    return this.sasl;
  }

  get exchange(): SaslExchange | undefined {
    return this.exchangeInProgress;
  }

  /** SaslHandshake accepted a mechanism: tokens follow in SaslAuthenticate (v1) or bare (v0). */
  beginSasl(exchange: SaslExchange, handshakeVersion: number): void {
    this.exchangeInProgress = exchange;
    this.sasl = handshakeVersion === 0 ? 'raw-tokens' : 'authenticate';
  }

  failSasl(): void {
    this.exchangeInProgress = undefined;
    this.sasl = 'failed';
  }

  get needsSasl(): boolean {
    return this.securityProtocol === 'SASL_PLAINTEXT' || this.securityProtocol === 'SASL_SSL';
  }

  /** The principal requests run as; undefined while SASL authentication is pending. */
  get principal(): KafkaPrincipal | undefined {
    return this.authenticatedAs;
  }

  authenticated(principal: KafkaPrincipal): void {
    this.authenticatedAs = principal;
    this.exchangeInProgress = undefined;
    this.sasl = 'complete';
  }
}

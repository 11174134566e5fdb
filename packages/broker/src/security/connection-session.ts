// What a connection has established about its client: the listener's security protocol and the
// principal. TLS sets the principal when the handshake completes (before the first request);
// on SASL listeners it stays unauthenticated until SaslAuthenticate succeeds.

import type { SecurityProtocol } from '../config/broker-config.js';
import { anonymousPrincipal, type KafkaPrincipal } from './kafka-principal.js';

export class ConnectionSession {
  private authenticatedAs: KafkaPrincipal | undefined;

  constructor(
    readonly securityProtocol: SecurityProtocol,
    /** The principal TLS established (ANONYMOUS without a client certificate). */
    readonly transportPrincipal: KafkaPrincipal = anonymousPrincipal,
  ) {
    if (!this.needsSasl) this.authenticatedAs = transportPrincipal;
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
  }
}

// What a connection has established about its client: the listener's security protocol and the
// principal. TLS sets the principal when the handshake completes (before the first request);
// on SASL listeners it stays unauthenticated until SaslAuthenticate succeeds.
//
// Re-authentication (KIP-368, connections.max.reauth.ms > 0), as Kafka's SaslServerAuthenticator
// and KafkaChannel: a successful authentication lasts its session lifetime. Before it ends the
// client sends SaslHandshake and SaslAuthenticate again on the same connection, with the same
// mechanism, and must prove the same principal; meanwhile the connection keeps its principal, so
// requests already in flight are served. A connection whose session has expired is closed when it
// sends anything but re-authentication. Time is passed in (`nowMs`): this class reads no clock.

import type { SecurityProtocol } from '../config/broker-config.js';
import { anonymousPrincipal, formatPrincipal, type KafkaPrincipal } from './kafka-principal.js';
import type { SaslExchange } from './sasl-exchange.js';

/**
 * Where a SASL connection is, as Kafka's SaslServerAuthenticator: waiting for SaslHandshake (only
 * ApiVersions besides), exchanging tokens in SaslAuthenticate requests (handshake v1) or as bare
 * frames (handshake v0), authenticated, or failed (the connection closes after the answer).
 * While re-authenticating the state is 'authenticate' (or 'raw-tokens') with the principal kept.
 */
export type SaslState = 'handshake' | 'authenticate' | 'raw-tokens' | 'complete' | 'failed';

/** Kafka's KafkaChannel.MIN_REAUTH_INTERVAL_ONE_SECOND_NANOS: re-authentications start at most this often. */
export const reauthenticationIntervalMinMs = 1000;

export type ReauthenticationStart =
  | { readonly kind: 'begun' }
  /** Handled as an ordinary SaslHandshake on an authenticated connection: ILLEGAL_SASL_STATE. */
  | { readonly kind: 'not-allowed'; readonly reason: string };

export type AuthenticationResult =
  | { readonly kind: 'authenticated'; readonly sessionLifetimeMs: number }
  /** Kafka's SaslAuthenticationException message, sent to the client; the connection closes. */
  | { readonly kind: 'refused'; readonly message: string };

export class ConnectionSession {
  private authenticatedAs: KafkaPrincipal | undefined;
  private sasl: SaslState;
  private exchangeInProgress: SaslExchange | undefined;
  /** connections.max.reauth.ms of the mechanism in progress (0: sessions never expire). */
  private exchangeMaxReauthMs = 0;
  /** The mechanism of the last successful authentication: re-authentication must use it again. */
  private authenticatedMechanism: string | undefined;
  /** When the current authentication stops being valid; undefined: never. */
  private sessionExpiresAtMs: number | undefined;
  private lastReauthenticationStartMs: number | undefined;
  private reauthenticationCount = 0;

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

  /** The mechanism the connection last authenticated with (undefined before SASL completed). */
  get mechanism(): string | undefined {
    return this.authenticatedMechanism;
  }

  /** When the re-authentication in progress (or the last one) began; undefined before any. */
  get reauthenticationStartedAtMs(): number | undefined {
    return this.lastReauthenticationStartMs;
  }

  /** How many times this connection re-authenticated successfully. */
  get reauthentications(): number {
    return this.reauthenticationCount;
  }

  /** A re-authentication is in progress: the previous principal still holds. */
  get reauthenticating(): boolean {
    return this.authenticatedAs !== undefined && (this.sasl === 'authenticate' || this.sasl === 'raw-tokens');
  }

  /**
   * SaslHandshake accepted a mechanism: tokens follow in SaslAuthenticate (v1) or bare (v0).
   * `maxReauthMs`: connections.max.reauth.ms for that mechanism on this listener.
   */
  beginSasl(exchange: SaslExchange, handshakeVersion: number, maxReauthMs: number): void {
    this.exchangeInProgress = exchange;
    this.exchangeMaxReauthMs = maxReauthMs;
    this.sasl = handshakeVersion === 0 ? 'raw-tokens' : 'authenticate';
  }

  /**
   * A SaslHandshake on an authenticated connection: it starts a re-authentication when the session
   * has a lifetime and the last one started at least a second ago, as in Kafka's
   * KafkaChannel.maybeBeginServerReauthentication; the caller then begins the exchange.
   */
  beginReauthentication(nowMs: number): ReauthenticationStart {
    if (this.sasl !== 'complete' || this.authenticatedAs === undefined || !this.needsSasl) {
      return { kind: 'not-allowed', reason: 'the connection is not SASL-authenticated' };
    }
    if (this.sessionExpiresAtMs === undefined) {
      return {
        kind: 'not-allowed',
        reason: 're-authentication is disabled (connections.max.reauth.ms is 0)',
      };
    }
    if (
      this.lastReauthenticationStartMs !== undefined &&
      nowMs - this.lastReauthenticationStartMs < reauthenticationIntervalMinMs
    ) {
      return { kind: 'not-allowed', reason: 'the last re-authentication began less than a second ago' };
    }
    this.lastReauthenticationStartMs = nowMs;
    return { kind: 'begun' };
  }

  failSasl(): void {
    this.exchangeInProgress = undefined;
    this.sasl = 'failed';
    // What is still in flight runs as nobody; the connection closes after the failure's answer.
    this.authenticatedAs = undefined;
    this.sessionExpiresAtMs = undefined;
  }

  get needsSasl(): boolean {
    return this.securityProtocol === 'SASL_PLAINTEXT' || this.securityProtocol === 'SASL_SSL';
  }

  /** The principal requests run as; undefined while SASL authentication is pending. */
  get principal(): KafkaPrincipal | undefined {
    return this.authenticatedAs;
  }

  /**
   * The exchange in progress succeeded as `principal` at `nowMs`. A re-authentication that proves
   * a different principal is refused with Kafka's message (and the session fails).
   */
  authenticated(
    principal: KafkaPrincipal,
    nowMs: number,
    credentialExpiresAtMs?: number,
  ): AuthenticationResult {
    const mechanism = this.exchangeInProgress?.mechanism;
    const previous = this.reauthenticating ? this.authenticatedAs : undefined;
    if (previous !== undefined && formatPrincipal(previous) !== formatPrincipal(principal)) {
      this.failSasl();
      return {
        kind: 'refused',
        message:
          `Cannot change principals during re-authentication from ${previous.principalType}.${previous.name}: ` +
          `${principal.principalType}.${principal.name}`,
      };
    }
    if (previous !== undefined) this.reauthenticationCount += 1;
    // Kafka's ReauthInfo.calcCompletionTimesAndReturnSessionLifetimeMs: the configured lifetime,
    // cut short by the credential's own end; a credential that ends gives the session an end even
    // with connections.max.reauth.ms at 0.
    const maxReauthMs = this.exchangeMaxReauthMs;
    const credentialLeftMs =
      credentialExpiresAtMs === undefined ? undefined : Math.max(0, credentialExpiresAtMs - nowMs);
    const sessionLifetimeMs =
      credentialLeftMs === undefined
        ? maxReauthMs
        : maxReauthMs > 0
          ? Math.min(maxReauthMs, credentialLeftMs)
          : credentialLeftMs;
    const expires = credentialLeftMs !== undefined || maxReauthMs > 0;
    this.authenticatedAs = principal;
    this.authenticatedMechanism = mechanism;
    this.exchangeInProgress = undefined;
    this.sasl = 'complete';
    this.sessionExpiresAtMs = expires ? nowMs + sessionLifetimeMs : undefined;
    return { kind: 'authenticated', sessionLifetimeMs };
  }

  /** The session lifetime has passed: only re-authentication may use the connection now. */
  expired(nowMs: number): boolean {
    return this.sessionExpiresAtMs !== undefined && nowMs > this.sessionExpiresAtMs;
  }
}

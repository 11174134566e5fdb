// The SASL mechanisms each SASL listener offers, and a new server-side exchange for one: PLAIN
// against the listener's JAAS users, SCRAM against the credentials in the metadata image,
// OAUTHBEARER against the listener's unsecured-JWT validator options and the wall clock.

import { createHmac } from 'node:crypto';
import type { ListenerSasl, SaslMechanismName } from '../config/listener-sasl.js';
import type { SaslExchange } from './sasl-exchange.js';
import { OAuthBearerExchange } from './sasl-oauthbearer.js';
import { PlainExchange } from './sasl-plain.js';
import {
  type DelegationTokenCredential,
  ScramExchange,
  type StoredScramCredential,
  scramMechanismNamed,
} from './scram.js';

export type ScramCredentialLookup = (
  user: string,
  mechanismType: number,
) => StoredScramCredential | undefined;

/** The cluster secret of the node's current metadata image; null before the first one has it. */
export type ClusterSecretSource = () => Buffer | null;

/**
 * The key unknown SCRAM users' made-up salts come from: the cluster secret, narrowed to this one use
 * so that no other use of the secret can ever be played against it.
 */
export function unknownScramUserKey(clusterSecret: Buffer): Buffer {
  return createHmac('sha256', clusterSecret).update('gregor scram unknown-user salt').digest();
}

export class SaslAuthenticator {
  private derivedFrom: Buffer | null = null;
  private unknownUserKey: Buffer | null = null;

  constructor(
    private readonly listeners: ReadonlyMap<string, ListenerSasl>,
    private readonly scramCredential: ScramCredentialLookup,
    private readonly clusterSecret: ClusterSecretSource,
    /** Wall-clock milliseconds, for the expiry of OAUTHBEARER and delegation tokens. */
    private readonly wallClockMs: () => number,
    /** Delegation tokens by id, for SCRAM with tokenauth=true; absent: no token authenticates. */
    private readonly delegationToken: (tokenId: string) => DelegationTokenCredential | undefined = () =>
      undefined,
  ) {}

  mechanismsOf(listenerName: string): readonly string[] {
    return this.listeners.get(listenerName)?.mechanisms ?? [];
  }

  /** connections.max.reauth.ms of `mechanism` on the listener; 0: sessions do not expire. */
  maxReauthMsOf(listenerName: string, mechanism: string): number {
    return this.listeners.get(listenerName)?.connectionsMaxReauthMs.get(mechanism as SaslMechanismName) ?? 0;
  }

  /** A new exchange, or undefined if the listener does not offer the mechanism. */
  start(listenerName: string, mechanism: string): SaslExchange | undefined {
    const listener = this.listeners.get(listenerName);
    if (listener === undefined || !(listener.mechanisms as readonly string[]).includes(mechanism))
      return undefined;
    if (mechanism === 'PLAIN') return new PlainExchange(listener.plainUsers);
    if (mechanism === 'OAUTHBEARER') {
      if (listener.oauthBearer === undefined) return undefined;
      return new OAuthBearerExchange(listener.oauthBearer, this.wallClockMs);
    }
    const scram = scramMechanismNamed(mechanism);
    if (scram === undefined) return undefined;
    return new ScramExchange(
      scram,
      (user) => this.scramCredential(user, scram.type),
      this.currentUnknownUserKey(),
      { credential: this.delegationToken, nowMs: this.wallClockMs },
    );
  }

  private currentUnknownUserKey(): Buffer | null {
    const secret = this.clusterSecret();
    if (secret === null) return null;
    // The secret never changes once written: derive once per secret the image holds.
    if (secret !== this.derivedFrom) {
      this.unknownUserKey = unknownScramUserKey(secret);
      this.derivedFrom = secret;
    }
    return this.unknownUserKey;
  }
}

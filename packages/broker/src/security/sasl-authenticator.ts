// The SASL mechanisms each SASL listener offers, and a new server-side exchange for one: PLAIN
// against the listener's JAAS users, SCRAM against the credentials in the metadata image.

import { randomBytes } from 'node:crypto';
import type { ListenerSasl, SaslMechanismName } from '../config/listener-sasl.js';
import type { SaslExchange } from './sasl-exchange.js';
import { PlainExchange } from './sasl-plain.js';
import { ScramExchange, type StoredScramCredential, scramMechanismNamed } from './scram.js';

export type ScramCredentialLookup = (
  user: string,
  mechanismType: number,
) => StoredScramCredential | undefined;

export class SaslAuthenticator {
  /** Derives the made-up salts of unknown SCRAM users; fixed for the life of the process. */
  private readonly unknownUserSecret = randomBytes(32);

  constructor(
    private readonly listeners: ReadonlyMap<string, ListenerSasl>,
    private readonly scramCredential: ScramCredentialLookup,
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
    const scram = scramMechanismNamed(mechanism);
    if (scram === undefined) return undefined;
    return new ScramExchange(scram, (user) => this.scramCredential(user, scram.type), this.unknownUserSecret);
  }
}

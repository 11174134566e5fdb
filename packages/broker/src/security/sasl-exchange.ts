// One SASL authentication on the server side: client tokens in, a challenge, success or failure
// out. Mechanisms (PLAIN, SCRAM-SHA-256/512, OAUTHBEARER) implement it; the SaslHandshake and
// SaslAuthenticate handlers drive it.

import type { KafkaPrincipal } from './kafka-principal.js';

export type SaslStep =
  | { readonly kind: 'challenge'; readonly response: Buffer }
  | {
      readonly kind: 'done';
      readonly response: Buffer;
      readonly user: string;
      /**
       * Who the client is when that is not `User:<user>`: a delegation token's owner, marked as
       * token-authenticated (the user is then the token id).
       */
      readonly principal?: KafkaPrincipal;
      /** When the credential itself ends (an OAUTHBEARER token's `exp`): the session ends by then. */
      readonly credentialExpiresAtMs?: number;
    }
  | {
      readonly kind: 'failed';
      /** Why, for the broker's log; never sent back. */
      readonly reason: string;
      /** The name the client claimed, for the log line; never sent back. */
      readonly user: string | undefined;
      /**
       * What the client is told, where Kafka's mechanism says more than the generic "invalid
       * credentials" message (OAUTHBEARER's RFC 7628 JSON error, its authorization id mismatch).
       */
      readonly clientMessage?: string;
    };

export interface SaslExchange {
  readonly mechanism: string;
  step(token: Buffer): SaslStep;
}

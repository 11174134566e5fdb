// One SASL authentication on the server side: client tokens in, a challenge, success or failure
// out. Mechanisms (PLAIN, SCRAM-SHA-256/512) implement it; the SaslHandshake and SaslAuthenticate
// handlers drive it.

export type SaslStep =
  | { readonly kind: 'challenge'; readonly response: Buffer }
  | { readonly kind: 'done'; readonly response: Buffer; readonly user: string }
  /** `user`: the name the client claimed, for the log line; never sent back. */
  | { readonly kind: 'failed'; readonly reason: string; readonly user: string | undefined };

export interface SaslExchange {
  readonly mechanism: string;
  step(token: Buffer): SaslStep;
}

// SASL/OAUTHBEARER (RFC 7628) on the server, as Kafka's OAuthBearerSaslServer with the unsecured
// JWT validator (KIP-255):
//   client-first  n,[a=authzid],\x01auth=Bearer <token>\x01[key=value\x01]*\x01
//   success       an empty response; the principal is the token's principal claim, and the
//                 session ends when the token does (`exp`), sooner with connections.max.reauth.ms
//   failure       the RFC's JSON error as a challenge (`{"status":"invalid_token"}`, with "scope"
//                 for a missing scope); the client answers a lone \x01 and the exchange fails
//                 with that JSON as the message (SASL_AUTHENTICATION_FAILED)
// A malformed client-first message fails at once with Kafka's generic message. Extensions
// (key=value pairs besides auth) are accepted as Kafka's unsecured validator accepts them all.
// The time comes from the `nowMs` passed in.

import type { SaslExchange, SaslStep } from './sasl-exchange.js';
import { type UnsecuredJwtValidatorOptions, validateUnsecuredJwt } from './unsecured-jwt.js';

const separator = '\u0001';
// Kafka's grammar, with JavaScript's character classes (no `&&`): a saslname has no '=' or ',' but
// the =2C and =3D escapes, and no \x01 (the separator) either.
const clientFirstPattern = new RegExp(
  `^n,(?:a=((?:[\\x02-\\x2B\\x2D-\\x3C\\x3E-\\x7F]|=2C|=3D)+))?,${separator}((?:[A-Za-z]+=[\\x21-\\x7E \\t\\r\\n]+${separator})*)${separator}$`,
);
const authPattern = /^([A-Za-z0-9_]+) +([-_.a-zA-Z0-9]+)$/;

type State =
  | { readonly kind: 'client-first' }
  | {
      readonly kind: 'error-sent';
      readonly errorJson: string;
      readonly reason: string;
      readonly user: string | undefined;
    }
  | { readonly kind: 'finished' };

export class OAuthBearerExchange implements SaslExchange {
  readonly mechanism = 'OAUTHBEARER';
  private state: State = { kind: 'client-first' };

  constructor(
    private readonly options: UnsecuredJwtValidatorOptions,
    private readonly nowMs: () => number,
  ) {}

  step(token: Buffer): SaslStep {
    const state = this.state;
    this.state = { kind: 'finished' };
    switch (state.kind) {
      case 'client-first':
        return this.clientFirst(token.toString('utf8'));
      case 'error-sent':
        // RFC 7628 3.2.3: the client acknowledges the error with a lone %x01; anything else is
        // just as final.
        return { kind: 'failed', reason: state.reason, user: state.user, clientMessage: state.errorJson };
      case 'finished':
        return { kind: 'failed', reason: 'OAUTHBEARER exchange already finished', user: undefined };
    }
  }

  private clientFirst(message: string): SaslStep {
    const match = clientFirstPattern.exec(message);
    if (match === null)
      return { kind: 'failed', reason: 'Invalid OAUTHBEARER client first message', user: undefined };
    const authorizationId = (match[1] ?? '').replace(/=2C/g, ',').replace(/=3D/g, '=');
    const pairs = new Map<string, string>();
    for (const pair of match[2]!.split(separator)) {
      if (pair === '') continue;
      const equals = pair.indexOf('=');
      pairs.set(pair.slice(0, equals), pair.slice(equals + 1));
    }
    const auth = pairs.get('auth');
    if (auth === undefined) {
      return {
        kind: 'failed',
        reason: "Invalid OAUTHBEARER client first message: 'auth' not specified",
        user: undefined,
      };
    }
    const authMatch = authPattern.exec(auth);
    if (authMatch === null) {
      return {
        kind: 'failed',
        reason: "Invalid OAUTHBEARER client first message: invalid 'auth' format",
        user: undefined,
      };
    }
    if (authMatch[1]!.toLowerCase() !== 'bearer') {
      return {
        kind: 'failed',
        reason: `Invalid scheme in OAUTHBEARER client first message: ${authMatch[1]}`,
        user: undefined,
      };
    }
    const validation = validateUnsecuredJwt(authMatch[2]!, this.options, this.nowMs());
    if (!validation.valid) {
      const errorJson =
        validation.scope === undefined
          ? `{"status":"${validation.status}"}`
          : `{"status":"${validation.status}", "scope":"${validation.scope}"}`;
      this.state = {
        kind: 'error-sent',
        errorJson,
        reason: validation.reason,
        user: authorizationId === '' ? undefined : authorizationId,
      };
      return { kind: 'challenge', response: Buffer.from(errorJson, 'utf8') };
    }
    if (authorizationId !== '' && authorizationId !== validation.principalName) {
      const clientMessage = `Authentication failed: Client requested an authorization id (${authorizationId}) that is different from the token's principal name (${validation.principalName})`;
      return { kind: 'failed', reason: clientMessage, user: validation.principalName, clientMessage };
    }
    return {
      kind: 'done',
      response: Buffer.alloc(0),
      user: validation.principalName,
      credentialExpiresAtMs: validation.expiresAtMs,
    };
  }
}

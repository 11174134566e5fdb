// SASL/PLAIN (RFC 4616) on the server, as Kafka's PlainSaslServer: one message from the client,
// `[authzid] NUL authcid NUL passwd`, checked against the users of the listener's JAAS config.
// Whether the user is unknown or the password wrong, the answer and the work are the same: both
// sides are hashed and compared in constant time, so neither the reply nor its timing says
// whether the user exists.

import { createHash, timingSafeEqual } from 'node:crypto';
import type { SaslExchange, SaslStep } from './sasl-exchange.js';

const unknownUserPassword = Buffer.from('\u0000no such user\u0000');

export class PlainExchange implements SaslExchange {
  readonly mechanism = 'PLAIN';
  private finished = false;

  constructor(private readonly users: ReadonlyMap<string, string>) {}

  step(token: Buffer): SaslStep {
    if (this.finished) return { kind: 'failed', reason: 'PLAIN takes one message', user: undefined };
    this.finished = true;
    const parts = token.toString('utf8').split('\u0000');
    if (parts.length !== 3) {
      return {
        kind: 'failed',
        reason: 'malformed PLAIN message: expected authzid NUL authcid NUL passwd',
        user: undefined,
      };
    }
    const [authorizationId, user, password] = parts as [string, string, string];
    if (user === '') return { kind: 'failed', reason: 'PLAIN message without a user name', user: undefined };
    if (authorizationId !== '' && authorizationId !== user) {
      return { kind: 'failed', reason: 'authorization id differs from the user name', user };
    }
    const expected = this.users.get(user);
    const digest = (value: Buffer) => createHash('sha256').update(value).digest();
    const matches = timingSafeEqual(
      digest(expected === undefined ? unknownUserPassword : Buffer.from(expected, 'utf8')),
      digest(Buffer.from(password, 'utf8')),
    );
    if (expected === undefined || !matches) return { kind: 'failed', reason: 'invalid credentials', user };
    return { kind: 'done', response: Buffer.alloc(0), user };
  }
}

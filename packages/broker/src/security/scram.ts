// SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677) on the server, as Kafka's ScramSaslServer:
//   client-first  n,[a=authzid],n=user,r=client-nonce[,extensions]
//   server-first  r=client-nonce+server-nonce,s=salt,i=iterations
//   client-final  c=base64(gs2 header),r=nonce[,extensions],p=proof
//   server-final  v=server-signature
// The broker keeps only StoredKey and ServerKey (from the metadata log), never the password. A user
// without a credential gets a made-up salt, derived from the cluster secret (a random value the
// first controller wrote into the metadata log), so every node answers the same salt for the same
// unknown user, before and after restarts, as for a real one; it fails at the proof like a wrong
// password: the exchange does not say whether the user exists. A node whose image has no cluster
// secret yet (before the first controller's activation commits) refuses every SCRAM exchange.
//
// Delegation tokens (KIP-48) authenticate here too, as in Kafka's ScramSaslServer: a client-first
// message with the extension `tokenauth=true` names a token id as its user, and the password is the
// token's HMAC in base64. The credential is derived from that password for the exchange (a fresh
// salt, 4096 iterations, as Kafka's DelegationTokenCache does once per token); the principal is the
// token's owner, marked token-authenticated, and the session ends when the token expires. A token
// that is unknown (never created, expired and removed, or no secret key) or past its expiry fails.

import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { scramIterationsMax, scramIterationsMin } from '@gregor/metadata';
import type { KafkaPrincipal } from './kafka-principal.js';
import type { SaslExchange, SaslStep } from './sasl-exchange.js';

export interface ScramMechanism {
  readonly name: 'SCRAM-SHA-256' | 'SCRAM-SHA-512';
  /** Kafka's ScramMechanism type, in AlterUserScramCredentials and DescribeUserScramCredentials. */
  readonly type: 1 | 2;
  readonly hash: 'sha256' | 'sha512';
  readonly keyBytes: number;
}

export const scramMechanisms: readonly ScramMechanism[] = [
  { name: 'SCRAM-SHA-256', type: 1, hash: 'sha256', keyBytes: 32 },
  { name: 'SCRAM-SHA-512', type: 2, hash: 'sha512', keyBytes: 64 },
];

export function scramMechanismNamed(name: string): ScramMechanism | undefined {
  return scramMechanisms.find((mechanism) => mechanism.name === name);
}

export function scramMechanismOfType(type: number): ScramMechanism | undefined {
  return scramMechanisms.find((mechanism) => mechanism.type === type);
}

/** Kafka's bounds on a credential's iterations: the controller checks them too. */
export { scramIterationsMax, scramIterationsMin };

export interface StoredScramCredential {
  readonly salt: Buffer;
  readonly storedKey: Buffer;
  readonly serverKey: Buffer;
  readonly iterations: number;
}

const hmac = (mechanism: ScramMechanism, key: Buffer, text: string | Buffer) =>
  createHmac(mechanism.hash, key).update(text).digest();
const hash = (mechanism: ScramMechanism, data: Buffer) => createHash(mechanism.hash).update(data).digest();

/** Hi(password, salt, iterations): what a client sends in AlterUserScramCredentials. */
export function scramSaltedPassword(
  mechanism: ScramMechanism,
  password: string,
  salt: Buffer,
  iterations: number,
): Buffer {
  return pbkdf2Sync(Buffer.from(password, 'utf8'), salt, iterations, mechanism.keyBytes, mechanism.hash);
}

/** StoredKey and ServerKey from a salted password, as Kafka's ScramFormatter does. */
export function scramCredential(
  mechanism: ScramMechanism,
  salt: Buffer,
  saltedPassword: Buffer,
  iterations: number,
): StoredScramCredential {
  const clientKey = hmac(mechanism, saltedPassword, 'Client Key');
  return {
    salt,
    storedKey: hash(mechanism, clientKey),
    serverKey: hmac(mechanism, saltedPassword, 'Server Key'),
    iterations,
  };
}

/** SCRAM's saslname: `=2C` is a comma, `=3D` an equals sign; any other `=` is malformed. */
function decodeSaslName(name: string): string | undefined {
  if (/=(?!2C|3D)/.test(name)) return undefined;
  return name.replace(/=2C/g, ',').replace(/=3D/g, '=');
}

const clientFirstPattern = /^n,(?:a=([^,]*))?,(n=([^,]*),r=([^,]+)((?:,[^,]*)*))$/;
const clientFinalPattern = /^(c=([^,]*),r=([^,]*)((?:,[^,]*)*)),p=([^,]+)$/;

type State =
  | { readonly kind: 'client-first' }
  | {
      readonly kind: 'client-final';
      readonly user: string;
      readonly gs2Header: string;
      readonly nonce: string;
      readonly clientFirstBare: string;
      readonly serverFirst: string;
      readonly credential: StoredScramCredential;
      readonly known: boolean;
      /** Set when the user is a delegation token id (tokenauth=true). */
      readonly token?: DelegationTokenCredential;
    }
  | { readonly kind: 'finished' };

/** What SCRAM needs of a delegation token to authenticate with it. */
export interface DelegationTokenCredential {
  /** The token's owner: the principal the connection gets. */
  readonly owner: KafkaPrincipal;
  /** The token's HMAC: its password is this in base64. */
  readonly hmac: Buffer;
  /** The token's expiry, capped by its maximum: it cannot authenticate after this. */
  readonly expiresAtMs: number;
}

export interface DelegationTokenSource {
  /** The token with this id, if delegation tokens are enabled and it exists. */
  credential(tokenId: string): DelegationTokenCredential | undefined;
  /** Wall-clock milliseconds, to compare with token expiries. */
  nowMs(): number;
}

export class ScramExchange implements SaslExchange {
  private state: State = { kind: 'client-first' };

  constructor(
    private readonly scram: ScramMechanism,
    private readonly credentialOf: (user: string) => StoredScramCredential | undefined,
    /**
     * The key the made-up salt of an unknown user is derived from (from the cluster secret, the same
     * on every node); null while the node has no cluster secret: the exchange is refused.
     */
    private readonly unknownUserSecret: Buffer | null,
    /** Delegation tokens for `tokenauth=true`; absent: such exchanges fail. */
    private readonly delegationTokens?: DelegationTokenSource,
  ) {}

  get mechanism(): string {
    return this.scram.name;
  }

  step(token: Buffer): SaslStep {
    const message = token.toString('utf8');
    const state = this.state;
    this.state = { kind: 'finished' };
    switch (state.kind) {
      case 'client-first':
        return this.clientFirst(message);
      case 'client-final':
        return this.clientFinal(message, state);
      case 'finished':
        return { kind: 'failed', reason: 'SCRAM exchange already finished', user: undefined };
    }
  }

  private clientFirst(message: string): SaslStep {
    const match = clientFirstPattern.exec(message);
    if (match === null)
      return { kind: 'failed', reason: 'malformed SCRAM client-first message', user: undefined };
    const [, authorizationId, clientFirstBare, saslName, clientNonce, extensions] = match;
    const user = decodeSaslName(saslName!);
    if (user === undefined || user === '') {
      return { kind: 'failed', reason: 'malformed SCRAM user name', user: undefined };
    }
    if (authorizationId !== undefined && authorizationId !== '' && decodeSaslName(authorizationId) !== user) {
      return { kind: 'failed', reason: 'authorization id differs from the user name', user };
    }
    const gs2Header = message.slice(0, message.length - clientFirstBare!.length);
    if (extensions !== '' && /(^|,)tokenauth=true(,|$)/.test(extensions!.slice(1))) {
      return this.tokenFirst(user, clientNonce!, clientFirstBare!, gs2Header);
    }
    if (this.unknownUserSecret === null) {
      return { kind: 'failed', reason: 'the cluster secret is not in the metadata image yet', user };
    }
    const stored = this.credentialOf(user);
    const credential = stored ?? this.madeUpCredential(user, this.unknownUserSecret);
    const nonce = `${clientNonce}${randomBytes(24).toString('base64url')}`;
    const serverFirst = `r=${nonce},s=${credential.salt.toString('base64')},i=${credential.iterations}`;
    this.state = {
      kind: 'client-final',
      user,
      gs2Header,
      nonce,
      clientFirstBare: clientFirstBare!,
      serverFirst,
      credential,
      known: stored !== undefined,
    };
    return { kind: 'challenge', response: Buffer.from(serverFirst, 'utf8') };
  }

  private clientFinal(message: string, state: Extract<State, { kind: 'client-final' }>): SaslStep {
    const invalid: SaslStep = { kind: 'failed', reason: 'invalid credentials', user: state.user };
    const match = clientFinalPattern.exec(message);
    if (match === null)
      return { kind: 'failed', reason: 'malformed SCRAM client-final message', user: state.user };
    const [, withoutProof, channelBinding, nonce, , proofText] = match;
    if (Buffer.from(channelBinding!, 'base64').toString('utf8') !== state.gs2Header) {
      return { kind: 'failed', reason: 'SCRAM channel binding does not match', user: state.user };
    }
    // Kafka's check is endsWith, not equality: librdkafka sends its own nonce again in front of
    // the combined one, and Kafka accepts it.
    if (!nonce!.endsWith(state.nonce)) {
      return { kind: 'failed', reason: 'SCRAM nonce does not match', user: state.user };
    }
    const authMessage = `${state.clientFirstBare},${state.serverFirst},${withoutProof}`;
    const { storedKey, serverKey } = state.credential;
    const proof = Buffer.from(proofText!, 'base64');
    const clientSignature = hmac(this.scram, storedKey, authMessage);
    if (proof.length !== clientSignature.length) return invalid;
    const clientKey = Buffer.alloc(proof.length);
    for (let index = 0; index < proof.length; index++)
      clientKey[index] = proof[index]! ^ clientSignature[index]!;
    const proven = timingSafeEqual(hash(this.scram, clientKey), storedKey);
    if (!proven || !state.known) return invalid;
    const serverSignature = hmac(this.scram, serverKey, authMessage).toString('base64');
    const response = Buffer.from(`v=${serverSignature}`, 'utf8');
    if (state.token === undefined) return { kind: 'done', response, user: state.user };
    if (this.delegationTokens!.nowMs() > state.token.expiresAtMs) {
      return { kind: 'failed', reason: 'the delegation token has expired', user: state.user };
    }
    return {
      kind: 'done',
      response,
      user: state.user,
      principal: { ...state.token.owner, tokenAuthenticated: true },
      credentialExpiresAtMs: state.token.expiresAtMs,
    };
  }

  /** The client-first message of a token authentication: the user is the token id. */
  private tokenFirst(
    tokenId: string,
    clientNonce: string,
    clientFirstBare: string,
    gs2Header: string,
  ): SaslStep {
    const token = this.delegationTokens?.credential(tokenId);
    if (token === undefined) {
      return {
        kind: 'failed',
        reason: 'no such delegation token (or delegation tokens are disabled)',
        user: tokenId,
      };
    }
    if (this.delegationTokens!.nowMs() > token.expiresAtMs) {
      return { kind: 'failed', reason: 'the delegation token has expired', user: tokenId };
    }
    const salt = randomBytes(16);
    const password = token.hmac.toString('base64');
    const credential = scramCredential(
      this.scram,
      salt,
      scramSaltedPassword(this.scram, password, salt, scramIterationsMin),
      scramIterationsMin,
    );
    const nonce = `${clientNonce}${randomBytes(24).toString('base64url')}`;
    const serverFirst = `r=${nonce},s=${salt.toString('base64')},i=${scramIterationsMin}`;
    this.state = {
      kind: 'client-final',
      user: tokenId,
      gs2Header,
      nonce,
      clientFirstBare,
      serverFirst,
      credential,
      known: true,
      token,
    };
    return { kind: 'challenge', response: Buffer.from(serverFirst, 'utf8') };
  }

  /** The same salt for the same unknown user every time, so asking twice tells nothing either. */
  private madeUpCredential(user: string, secret: Buffer): StoredScramCredential {
    const salt = hmac(this.scram, secret, `salt:${user}`).subarray(0, 16);
    const keys = hmac(this.scram, secret, `keys:${user}`);
    return { salt, storedKey: hash(this.scram, keys), serverKey: keys, iterations: scramIterationsMin };
  }
}

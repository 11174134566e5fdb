// The client side of SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677), as Kafka's
// ScramSaslClient speaks it:
//   client-first  n,,n=user,r=client-nonce
//   server-first  r=client-nonce+server-nonce,s=salt,i=iterations
//   client-final  c=biws,r=nonce,p=proof
//   server-final  v=server-signature (or e=error)
// Only HMAC, PBKDF2 and the hash come from node:crypto; the nonce is passed in so the exchange is
// a pure function of its inputs (and testable against the RFC's vectors). A server that answers
// with a nonce that does not extend ours, too few iterations, or a signature that does not prove it
// knows the password is refused: those are what SCRAM's mutual authentication is for.

import { createHash, createHmac, pbkdf2, timingSafeEqual } from 'node:crypto';

export interface ScramMechanism {
  readonly name: 'SCRAM-SHA-256' | 'SCRAM-SHA-512';
  readonly hash: 'sha256' | 'sha512';
  readonly keyBytes: number;
}

export const scramSha256: ScramMechanism = { name: 'SCRAM-SHA-256', hash: 'sha256', keyBytes: 32 };
export const scramSha512: ScramMechanism = { name: 'SCRAM-SHA-512', hash: 'sha512', keyBytes: 64 };

/** Kafka's lower bound on a credential's iterations; a server asking fewer is not trusted. */
export const scramIterationsMin = 4_096;
/** Kafka's upper bound: more would let a server make the client burn CPU. */
export const scramIterationsMax = 16_384;

/** RFC 5802's gs2 header for a client without channel binding and without an authzid. */
const gs2Header = 'n,,';

/** SCRAM's saslname: a comma is `=2C`, an equals sign `=3D`. */
export function encodeSaslName(name: string): string {
  return name.replace(/=/g, '=3D').replace(/,/g, '=2C');
}

function attributes(message: string): Map<string, string> {
  const result = new Map<string, string>();
  for (const part of message.split(',')) {
    const equals = part.indexOf('=');
    if (equals === 1) result.set(part[0]!, part.slice(2));
  }
  return result;
}

const hmac = (mechanism: ScramMechanism, key: Buffer, text: string) =>
  createHmac(mechanism.hash, key).update(text).digest();

function saltedPassword(mechanism: ScramMechanism, password: string, salt: Buffer, iterations: number) {
  return new Promise<Buffer>((resolve, reject) =>
    pbkdf2(
      Buffer.from(password, 'utf8'),
      salt,
      iterations,
      mechanism.keyBytes,
      mechanism.hash,
      (error, key) => (error === null ? resolve(key) : reject(error)),
    ),
  );
}

export type ScramStep =
  | { readonly ok: true; readonly message: Buffer }
  | { readonly ok: false; readonly reason: string };

/** One SCRAM exchange: firstMessage(), then finalMessage(serverFirst), then verifyServerFinal(serverFinal). */
export class ScramClient {
  private readonly clientFirstBare: string;
  private expectedServerSignature: Buffer | undefined;

  constructor(
    readonly mechanism: ScramMechanism,
    username: string,
    private readonly password: string,
    private readonly clientNonce: string,
    /**
     * SCRAM extensions of the client-first message (Kafka's ScramExtensions): `tokenauth: 'true'`
     * authenticates with a delegation token, the username being its id and the password its HMAC.
     */
    extensions: Readonly<Record<string, string>> = {},
  ) {
    const extensionText = Object.entries(extensions)
      .map(([key, value]) => `,${key}=${value}`)
      .join('');
    this.clientFirstBare = `n=${encodeSaslName(username)},r=${clientNonce}${extensionText}`;
  }

  firstMessage(): Buffer {
    return Buffer.from(`${gs2Header}${this.clientFirstBare}`, 'utf8');
  }

  async finalMessage(serverFirstBytes: Buffer): Promise<ScramStep> {
    const serverFirst = serverFirstBytes.toString('utf8');
    const fields = attributes(serverFirst);
    if (fields.has('e')) return { ok: false, reason: `server refused: ${fields.get('e')}` };
    const nonce = fields.get('r');
    const salt = fields.get('s');
    const iterations = Number(fields.get('i'));
    if (nonce === undefined || salt === undefined || !Number.isInteger(iterations)) {
      return { ok: false, reason: `malformed server-first-message "${serverFirst}"` };
    }
    if (!nonce.startsWith(this.clientNonce) || nonce.length === this.clientNonce.length) {
      return { ok: false, reason: 'the server nonce does not extend the client nonce' };
    }
    if (iterations < scramIterationsMin || iterations > scramIterationsMax) {
      return {
        ok: false,
        reason: `the server asks ${iterations} iterations (accepted: ${scramIterationsMin}-${scramIterationsMax})`,
      };
    }
    const salted = await saltedPassword(
      this.mechanism,
      this.password,
      Buffer.from(salt, 'base64'),
      iterations,
    );
    const clientFinalWithoutProof = `c=${Buffer.from(gs2Header).toString('base64')},r=${nonce}`;
    const authMessage = `${this.clientFirstBare},${serverFirst},${clientFinalWithoutProof}`;
    const clientKey = hmac(this.mechanism, salted, 'Client Key');
    const storedKey = createHash(this.mechanism.hash).update(clientKey).digest();
    const clientSignature = hmac(this.mechanism, storedKey, authMessage);
    const proof = Buffer.alloc(clientKey.length);
    for (let index = 0; index < proof.length; index++)
      proof[index] = clientKey[index]! ^ clientSignature[index]!;
    const serverKey = hmac(this.mechanism, salted, 'Server Key');
    this.expectedServerSignature = hmac(this.mechanism, serverKey, authMessage);
    return {
      ok: true,
      message: Buffer.from(`${clientFinalWithoutProof},p=${proof.toString('base64')}`, 'utf8'),
    };
  }

  /** True when the server proved it holds this user's credential. */
  verifyServerFinal(
    serverFinalBytes: Buffer,
  ): { readonly ok: true } | { readonly ok: false; readonly reason: string } {
    const fields = attributes(serverFinalBytes.toString('utf8'));
    if (fields.has('e')) return { ok: false, reason: `server refused: ${fields.get('e')}` };
    const signature = Buffer.from(fields.get('v') ?? '', 'base64');
    const expected = this.expectedServerSignature;
    if (expected === undefined)
      return { ok: false, reason: 'server-final-message before client-final-message' };
    if (signature.length !== expected.length || !timingSafeEqual(signature, expected)) {
      return { ok: false, reason: 'the server signature is wrong: the server does not know the credential' };
    }
    return { ok: true };
  }
}

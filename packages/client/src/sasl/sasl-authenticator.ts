// SASL on one connection, right after ApiVersions, as Kafka's clients do: SaslHandshake v1 picks
// the mechanism, then the tokens travel in SaslAuthenticate requests (PLAIN: one; SCRAM: two, and
// the server's last answer is checked; OAUTHBEARER: one, RFC 7628's client-first message with the
// token kafkajs's `oauthBearerProvider` gives, asked anew for every connection). kafkajs's `sasl`
// option names the mechanism in lower case.
// A refusal is a KafkaJSSASLAuthenticationError (never retried); the broker closes the connection
// after it, so the connection is not used again either way.

import { randomBytes } from 'node:crypto';
import { ApiKey, ErrorCode } from '@gregor/protocol';
import type { KafkaConnection } from '../connection.js';
import { KafkaJSError, KafkaJSSASLAuthenticationError } from '../errors.js';
import { plainToken } from './plain.js';
import { ScramClient, type ScramMechanism, scramSha256, scramSha512 } from './scram.js';

export interface PasswordSASLOptions {
  readonly mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512';
  readonly username: string;
  readonly password: string;
  /**
   * SCRAM only: authenticate with a delegation token (KIP-48), as Java's ScramLoginModule option
   * `tokenauth=true`: the username is the token id, the password the token's HMAC in base64.
   */
  readonly tokenAuth?: boolean;
}

/** kafkajs's OauthbearerProviderResponse: the token, and RFC 7628 extensions if any. */
export interface OauthbearerProviderResponse {
  readonly value: string;
  readonly extensions?: Readonly<Record<string, string>>;
}

/** kafkajs's OAUTHBEARER option: a provider asked for a (fresh) token on every connection. */
export interface OauthbearerSASLOptions {
  readonly mechanism: 'oauthbearer';
  readonly oauthBearerProvider: () => Promise<OauthbearerProviderResponse>;
}

export type SASLOptions = PasswordSASLOptions | OauthbearerSASLOptions;

const mechanismNames = {
  plain: 'PLAIN',
  'scram-sha-256': 'SCRAM-SHA-256',
  'scram-sha-512': 'SCRAM-SHA-512',
  oauthbearer: 'OAUTHBEARER',
} as const;

const scramMechanisms: Record<string, ScramMechanism> = {
  'scram-sha-256': scramSha256,
  'scram-sha-512': scramSha512,
};

/** Bytes of randomness in a SCRAM client nonce (Kafka's ScramFormatter uses 32 bytes too). */
export const scramClientNonceBytes = 32;

/** Checks kafkajs's `sasl` option once, at `new Kafka(...)`: an unknown mechanism is refused there. */
export function validateSaslOptions(sasl: unknown): SASLOptions {
  const options = sasl as Partial<PasswordSASLOptions & Omit<OauthbearerSASLOptions, 'mechanism'>> | null;
  const mechanism = String(options?.mechanism ?? '').toLowerCase();
  if (!(mechanism in mechanismNames)) {
    throw new KafkaJSError(
      `sasl mechanism "${options?.mechanism}" is not supported (supported: ${Object.keys(mechanismNames).join(', ')})`,
    );
  }
  if (mechanism === 'oauthbearer') {
    if (typeof options?.oauthBearerProvider !== 'function') {
      throw new KafkaJSError(
        'sasl oauthbearer needs an oauthBearerProvider (an async function giving { value })',
      );
    }
    return { mechanism, oauthBearerProvider: options.oauthBearerProvider };
  }
  if (typeof options?.username !== 'string' || typeof options.password !== 'string') {
    throw new KafkaJSError('sasl needs a username and a password (strings)');
  }
  if (options.tokenAuth !== undefined && typeof options.tokenAuth !== 'boolean') {
    throw new KafkaJSError('sasl tokenAuth must be true or false');
  }
  if (options.tokenAuth === true && mechanism === 'plain') {
    throw new KafkaJSError('sasl tokenAuth (delegation tokens) needs scram-sha-256 or scram-sha-512');
  }
  return {
    mechanism: mechanism as PasswordSASLOptions['mechanism'],
    username: options.username,
    password: options.password,
    ...(options.tokenAuth === true ? { tokenAuth: true } : {}),
  };
}

export interface SaslConnectionInfo {
  /** host:port, for the messages. */
  readonly broker: string;
  /** The SaslAuthenticate version both sides speak. */
  readonly authenticateVersion: number;
  readonly timeoutMs: number;
}

export async function authenticate(
  connection: KafkaConnection,
  sasl: SASLOptions,
  info: SaslConnectionInfo,
): Promise<void> {
  const mechanism = mechanismNames[sasl.mechanism];
  const handshake = await connection.call(ApiKey.SaslHandshake, 1, { mechanism }, info.timeoutMs);
  if (handshake.errorCode === ErrorCode.UNSUPPORTED_SASL_MECHANISM) {
    throw new KafkaJSSASLAuthenticationError(
      handshake.errorCode,
      `SASL mechanism ${mechanism} is not enabled on ${info.broker} (it offers: ${handshake.mechanisms.join(', ') || 'none'})`,
      handshake.mechanisms,
    );
  }
  if (handshake.errorCode !== ErrorCode.NONE) {
    throw new KafkaJSSASLAuthenticationError(
      handshake.errorCode,
      `SaslHandshake with ${info.broker} failed (is this a SASL listener?)`,
      handshake.mechanisms,
    );
  }
  const step = async (token: Buffer): Promise<Buffer> => {
    const response = await connection.call(
      ApiKey.SaslAuthenticate,
      info.authenticateVersion,
      { authBytes: token },
      info.timeoutMs,
    );
    if (response.errorCode !== ErrorCode.NONE) {
      throw new KafkaJSSASLAuthenticationError(
        response.errorCode,
        `SASL ${mechanism} authentication${sasl.mechanism === 'oauthbearer' ? '' : ` of ${sasl.username}`} at ${info.broker} failed: ${response.errorMessage ?? 'no reason given'}`,
      );
    }
    return response.authBytes;
  };
  if (sasl.mechanism === 'oauthbearer') {
    const token = await sasl.oauthBearerProvider();
    const serverError = await step(oauthBearerClientFirst(token));
    if (serverError.length === 0) return;
    // RFC 7628 3.2.2: the server's JSON error; acknowledging it with %x01 ends the exchange, and
    // the broker answers SASL_AUTHENTICATION_FAILED with that error, which step() throws.
    await step(Buffer.from(oauthBearerKvSeparator));
    throw new KafkaJSSASLAuthenticationError(
      ErrorCode.SASL_AUTHENTICATION_FAILED,
      `SASL OAUTHBEARER authentication at ${info.broker} failed: ${serverError.toString('utf8')}`,
    );
  }
  const scramMechanism = scramMechanisms[sasl.mechanism];
  if (scramMechanism === undefined) {
    await step(plainToken(sasl.username, sasl.password));
    return;
  }
  const scram = new ScramClient(
    scramMechanism,
    sasl.username,
    sasl.password,
    randomBytes(scramClientNonceBytes).toString('base64url'),
    sasl.tokenAuth === true ? { tokenauth: 'true' } : {},
  );
  const serverFirst = await step(scram.firstMessage());
  const clientFinal = await scram.finalMessage(serverFirst);
  const refused = (reason: string) =>
    new KafkaJSSASLAuthenticationError(
      ErrorCode.SASL_AUTHENTICATION_FAILED,
      `SASL ${mechanism} authentication of ${sasl.username} at ${info.broker} failed: ${reason}`,
    );
  if (!clientFinal.ok) throw refused(clientFinal.reason);
  const verified = scram.verifyServerFinal(await step(clientFinal.message));
  if (!verified.ok) throw refused(verified.reason);
}

const oauthBearerKvSeparator = '\u0001';

/** RFC 7628's client-first message: `n,,` then `auth=Bearer <token>` and any extensions, \x01-separated. */
export function oauthBearerClientFirst(token: OauthbearerProviderResponse): Buffer {
  if (typeof token?.value !== 'string' || !/^[-_.a-zA-Z0-9]+$/.test(token.value)) {
    throw new KafkaJSError('the oauthBearerProvider gave no token value (a JWT in compact serialization)');
  }
  const extensions = Object.entries(token.extensions ?? {}).map(([key, value]) => {
    if (!/^[A-Za-z]+$/.test(key) || key === 'auth' || !/^[\x21-\x7E \t\r\n]+$/.test(value)) {
      throw new KafkaJSError(`invalid OAUTHBEARER extension ${key}=${value}`);
    }
    return `${key}=${value}${oauthBearerKvSeparator}`;
  });
  const separator = oauthBearerKvSeparator;
  return Buffer.from(
    `n,,${separator}auth=Bearer ${token.value}${separator}${extensions.join('')}${separator}`,
    'utf8',
  );
}

// SASL on one connection, right after ApiVersions, as Kafka's clients do: SaslHandshake v1 picks
// the mechanism, then the tokens travel in SaslAuthenticate requests (PLAIN: one; SCRAM: two, and
// the server's last answer is checked). kafkajs's `sasl` option names the mechanism in lower case.
// A refusal is a KafkaJSSASLAuthenticationError (never retried); the broker closes the connection
// after it, so the connection is not used again either way.

import { randomBytes } from 'node:crypto';
import { ApiKey, ErrorCode } from '@gregor/protocol';
import type { KafkaConnection } from '../connection.js';
import { KafkaJSError, KafkaJSSASLAuthenticationError } from '../errors.js';
import { plainToken } from './plain.js';
import { ScramClient, type ScramMechanism, scramSha256, scramSha512 } from './scram.js';

export interface SASLOptions {
  readonly mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512';
  readonly username: string;
  readonly password: string;
}

const mechanismNames = {
  plain: 'PLAIN',
  'scram-sha-256': 'SCRAM-SHA-256',
  'scram-sha-512': 'SCRAM-SHA-512',
} as const;

const scramMechanisms: Record<string, ScramMechanism> = {
  'scram-sha-256': scramSha256,
  'scram-sha-512': scramSha512,
};

/** Bytes of randomness in a SCRAM client nonce (Kafka's ScramFormatter uses 32 bytes too). */
export const scramClientNonceBytes = 32;

/** Checks kafkajs's `sasl` option once, at `new Kafka(...)`: an unknown mechanism is refused there. */
export function validateSaslOptions(sasl: unknown): SASLOptions {
  const options = sasl as Partial<SASLOptions> | null;
  const mechanism = String(options?.mechanism ?? '').toLowerCase();
  if (!(mechanism in mechanismNames)) {
    throw new KafkaJSError(
      `sasl mechanism "${options?.mechanism}" is not supported (supported: ${Object.keys(mechanismNames).join(', ')})`,
    );
  }
  if (typeof options?.username !== 'string' || typeof options.password !== 'string') {
    throw new KafkaJSError('sasl needs a username and a password (strings)');
  }
  return {
    mechanism: mechanism as SASLOptions['mechanism'],
    username: options.username,
    password: options.password,
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
        `SASL ${mechanism} authentication of ${sasl.username} at ${info.broker} failed: ${response.errorMessage ?? 'no reason given'}`,
      );
    }
    return response.authBytes;
  };
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

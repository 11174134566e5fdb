// Delegation tokens on the broker (KIP-48), as Kafka's DelegationTokenManager: the token id is a
// random UUID in Kafka's form (22 URL-safe base64 characters); its HMAC, the token's password, is
// HmacSHA512 of the id's UTF-8 bytes under the UTF-8 bytes of delegation.token.secret.key. The
// metadata log holds no HMAC: every broker derives it from the id with the key they share.

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { DelegationTokenState, MetadataImage } from '@gregor/metadata';
import type { BrokerSettings } from '../apis/broker-context.js';
import type { KafkaPrincipal } from './kafka-principal.js';
import type { DelegationTokenCredential } from './scram.js';

/** The secret key, or null when delegation tokens are disabled (neither key set). */
export function delegationTokenSecretKey(settings: BrokerSettings): Buffer | null {
  const key = settings.delegationTokenSecretKey ?? '';
  return key === '' ? null : Buffer.from(key, 'utf8');
}

export function delegationTokenHmac(secretKey: Buffer, tokenId: string): Buffer {
  return createHmac('sha512', secretKey).update(tokenId, 'utf8').digest();
}

/** A new token id: 16 random bytes as Kafka's Uuid.toString writes them. */
export function newDelegationTokenId(): string {
  return randomBytes(16).toString('base64url');
}

/**
 * The token whose HMAC this is, if any. Renew and Expire name a token by its HMAC only; the image
 * holds few tokens (each one is a user's credential), so each is hashed on the spot.
 */
export function delegationTokenByHmac(
  image: MetadataImage,
  secretKey: Buffer,
  hmac: Buffer,
): DelegationTokenState | undefined {
  for (const token of image.delegationTokens.values()) {
    const expected = delegationTokenHmac(secretKey, token.tokenId);
    if (expected.length === hmac.length && timingSafeEqual(expected, hmac)) return token;
  }
  return undefined;
}

/** What SCRAM authenticates a token against, or undefined (no such token, or no secret key). */
export function delegationTokenCredential(
  image: MetadataImage,
  secretKey: Buffer | null,
  tokenId: string,
): DelegationTokenCredential | undefined {
  if (secretKey === null) return undefined;
  const token = image.delegationTokens.get(tokenId);
  if (token === undefined) return undefined;
  return {
    owner: parsePrincipal(token.owner),
    hmac: delegationTokenHmac(secretKey, tokenId),
    expiresAtMs: Math.min(token.expirationTimestampMs, token.maxTimestampMs),
  };
}

/** `User:alice` as a principal (the type is what precedes the first colon). */
export function parsePrincipal(text: string): KafkaPrincipal {
  const colon = text.indexOf(':');
  return colon < 0
    ? { principalType: '', name: text }
    : { principalType: text.slice(0, colon), name: text.slice(colon + 1) };
}

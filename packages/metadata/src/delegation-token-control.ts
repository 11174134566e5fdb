// Delegation token control (Kafka's DelegationTokenControlManager, KIP-48): tokens created, renewed
// and expired as DelegationTokenRecord / RemoveDelegationTokenRecord, and removed once their expiry
// passes. The broker has already checked who may ask (a SASL-authenticated requester, not itself
// authenticated by a token; ACLs for another owner), chosen the token id and derived the HMAC that
// it hands out: the controller needs neither the secret key nor randomness. Times are the caller's
// `nowMs`; lifetimes follow the controller's config, as Kafka's controller does:
//   - created: maxTimestamp = now + min(requested max lifetime if > 0, delegation.token.max.lifetime.ms),
//     expiry = min(maxTimestamp, now + delegation.token.expiry.time.ms);
//   - renewed (by the owner, the requester or a renewer): expiry = min(maxTimestamp, now + period),
//     a negative period meaning delegation.token.expiry.time.ms;
//   - expired (by the same principals): a negative period removes the token at once, any other one
//     sets expiry = min(maxTimestamp, now + period);
//   - a token whose expiry or maximum has passed can be neither renewed nor expired
//     (DELEGATION_TOKEN_EXPIRED), and is removed by the next expiry check.

import type { ControllerBatch } from './controller-batch.js';
import { type ControllerError, ControllerErrorCode, controllerError } from './errors.js';
import type { DelegationTokenState, MetadataImage } from './image.js';

const errors = ControllerErrorCode;

export interface DelegationTokenConfig {
  /** `delegation.token.max.lifetime.ms`: no token lives longer, however often it is renewed. */
  readonly delegationTokenMaxLifetimeMs: number;
  /** `delegation.token.expiry.time.ms`: how long a token lives unless renewed. */
  readonly delegationTokenExpiryTimeMs: number;
  /** `delegation.token.expiry.check.interval.ms`: how often expired tokens are removed. */
  readonly delegationTokenExpiryCheckIntervalMs: number;
}

/** Kafka's defaults: 7 days, 1 day, 1 hour. */
export const defaultDelegationTokenConfig: DelegationTokenConfig = Object.freeze({
  delegationTokenMaxLifetimeMs: 7 * 24 * 60 * 60 * 1000,
  delegationTokenExpiryTimeMs: 24 * 60 * 60 * 1000,
  delegationTokenExpiryCheckIntervalMs: 60 * 60 * 1000,
});

/** Token ids are the broker's random UUIDs; anything longer is not one. */
export const delegationTokenIdLengthMax = 64;
/** Renewers one token may name (Kafka has no limit; the record must stay small). */
export const delegationTokenRenewersMax = 100;

export interface CreateDelegationTokenRequest {
  readonly tokenId: string;
  /** `User:name` strings. */
  readonly owner: string;
  readonly requester: string;
  readonly renewers: readonly string[];
  /** The requested maximum lifetime; 0 or less means the configured maximum. */
  readonly maxLifetimeMs: number;
}

export interface RenewDelegationTokenRequest {
  readonly tokenId: string;
  readonly requester: string;
  readonly renewPeriodMs: number;
}

export interface ExpireDelegationTokenRequest {
  readonly tokenId: string;
  readonly requester: string;
  readonly expiryTimePeriodMs: number;
}

export interface CreateDelegationTokenResponse {
  readonly token: DelegationTokenState;
}

export interface DelegationTokenExpiryResponse {
  readonly expiryTimestampMs: number;
}

/** Whether `principal` may renew or expire the token: its owner, its requester or a renewer. */
export function isTokenOwnerOrRenewer(token: DelegationTokenState, principal: string): boolean {
  return token.owner === principal || token.requester === principal || token.renewers.includes(principal);
}

/** Whether the token can no longer authenticate, be renewed or expired (Kafka: expiry or max < now). */
export function isDelegationTokenExpired(token: DelegationTokenState, nowMs: number): boolean {
  return token.expirationTimestampMs < nowMs || token.maxTimestampMs < nowMs;
}

export class DelegationTokenControlManager {
  private nextExpiryCheckMs: number;

  constructor(
    private readonly config: DelegationTokenConfig,
    private readonly image: () => MetadataImage,
    activationNowMs: number,
  ) {
    this.nextExpiryCheckMs = activationNowMs + config.delegationTokenExpiryCheckIntervalMs;
  }

  /** When `removeExpiredTokensIfDue` next has work to check. */
  get nextExpiryCheckDueMs(): number {
    return this.nextExpiryCheckMs;
  }

  createDelegationToken(
    batch: ControllerBatch,
    request: CreateDelegationTokenRequest,
    nowMs: number,
  ): CreateDelegationTokenResponse | ControllerError {
    // Checked here too, not only by the Kafka API handler: any node may send this over gRPC, and a
    // record the image refuses would stop every node that replays it.
    if (request.tokenId === '' || request.tokenId.length > delegationTokenIdLengthMax)
      return controllerError(errors.INVALID_REQUEST, 'Invalid delegation token id');
    if (this.image().delegationTokens.has(request.tokenId))
      return controllerError(errors.INVALID_REQUEST, 'A delegation token with this id exists');
    if (request.renewers.length > delegationTokenRenewersMax)
      return controllerError(errors.INVALID_REQUEST, `At most ${delegationTokenRenewersMax} renewers`);
    if (!Number.isSafeInteger(request.maxLifetimeMs))
      return controllerError(errors.INVALID_REQUEST, 'Invalid maximum lifetime');
    const maxLifetimeMs =
      request.maxLifetimeMs > 0
        ? Math.min(request.maxLifetimeMs, this.config.delegationTokenMaxLifetimeMs)
        : this.config.delegationTokenMaxLifetimeMs;
    const maxTimestampMs = nowMs + maxLifetimeMs;
    const token: DelegationTokenState = {
      tokenId: request.tokenId,
      owner: request.owner,
      requester: request.requester,
      renewers: [...request.renewers],
      issueTimestampMs: nowMs,
      maxTimestampMs,
      expirationTimestampMs: Math.min(maxTimestampMs, nowMs + this.config.delegationTokenExpiryTimeMs),
    };
    batch.add({ type: 'delegationToken', ...token });
    return { token };
  }

  renewDelegationToken(
    batch: ControllerBatch,
    request: RenewDelegationTokenRequest,
    nowMs: number,
  ): DelegationTokenExpiryResponse | ControllerError {
    const token = this.renewableToken(request.tokenId, request.requester, nowMs);
    if ('errorCode' in token) return token;
    if (!Number.isSafeInteger(request.renewPeriodMs))
      return controllerError(errors.INVALID_REQUEST, 'Invalid renew period');
    const periodMs =
      request.renewPeriodMs < 0 ? this.config.delegationTokenExpiryTimeMs : request.renewPeriodMs;
    const expiryTimestampMs = Math.min(token.maxTimestampMs, nowMs + periodMs);
    batch.add({ type: 'delegationToken', ...token, expirationTimestampMs: expiryTimestampMs });
    return { expiryTimestampMs };
  }

  expireDelegationToken(
    batch: ControllerBatch,
    request: ExpireDelegationTokenRequest,
    nowMs: number,
  ): DelegationTokenExpiryResponse | ControllerError {
    const token = this.renewableToken(request.tokenId, request.requester, nowMs);
    if ('errorCode' in token) return token;
    if (!Number.isSafeInteger(request.expiryTimePeriodMs))
      return controllerError(errors.INVALID_REQUEST, 'Invalid expiry time period');
    if (request.expiryTimePeriodMs < 0) {
      batch.add({ type: 'removeDelegationToken', tokenId: token.tokenId });
      return { expiryTimestampMs: nowMs };
    }
    const expiryTimestampMs = Math.min(token.maxTimestampMs, nowMs + request.expiryTimePeriodMs);
    batch.add({ type: 'delegationToken', ...token, expirationTimestampMs: expiryTimestampMs });
    return { expiryTimestampMs };
  }

  /** Removes every expired token when the check interval has passed; returns how many. */
  removeExpiredTokensIfDue(batch: ControllerBatch, nowMs: number): number {
    if (nowMs < this.nextExpiryCheckMs) return 0;
    this.nextExpiryCheckMs = nowMs + this.config.delegationTokenExpiryCheckIntervalMs;
    let removed = 0;
    for (const token of this.image().delegationTokens.values()) {
      if (!isDelegationTokenExpired(token, nowMs)) continue;
      batch.add({ type: 'removeDelegationToken', tokenId: token.tokenId });
      removed++;
    }
    return removed;
  }

  private renewableToken(
    tokenId: string,
    requester: string,
    nowMs: number,
  ): DelegationTokenState | ControllerError {
    const token = this.image().delegationTokens.get(tokenId);
    if (token === undefined)
      return controllerError(errors.DELEGATION_TOKEN_NOT_FOUND, 'Delegation token not found');
    if (isDelegationTokenExpired(token, nowMs))
      return controllerError(errors.DELEGATION_TOKEN_EXPIRED, 'Delegation token has expired');
    if (!isTokenOwnerOrRenewer(token, requester))
      return controllerError(
        errors.DELEGATION_TOKEN_OWNER_MISMATCH,
        'Only the owner, the requester or a renewer may renew or expire a delegation token',
      );
    return token;
  }
}

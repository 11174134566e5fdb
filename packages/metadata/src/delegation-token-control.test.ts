import { describe, expect, it } from 'vitest';
import { ControllerBatch } from './controller-batch.js';
import {
  type DelegationTokenConfig,
  DelegationTokenControlManager,
  isDelegationTokenExpired,
} from './delegation-token-control.js';
import { type ControllerError, ControllerErrorCode } from './errors.js';
import { MetadataImage } from './image.js';
import type { MetadataRecord } from './records.js';
import { decodeImageSnapshot, encodeImageSnapshot } from './snapshot.js';

const config: DelegationTokenConfig = {
  delegationTokenMaxLifetimeMs: 10_000,
  delegationTokenExpiryTimeMs: 3_000,
  delegationTokenExpiryCheckIntervalMs: 1_000,
};

/** A manager over an image that each operation advances, as the controller's working image does. */
class Tokens {
  image = MetadataImage.empty;
  records: MetadataRecord[] = [];
  readonly manager = new DelegationTokenControlManager(config, () => this.image, 0);

  run<R>(operation: (manager: DelegationTokenControlManager, batch: ControllerBatch) => R): R {
    const batch = new ControllerBatch(this.image);
    const result = operation(this.manager, batch);
    this.records = [...batch.records];
    this.image = batch.delta.apply();
    return result;
  }

  create(tokenId: string, nowMs: number, maxLifetimeMs = -1, renewers: string[] = []) {
    return this.run((m, b) =>
      m.createDelegationToken(
        b,
        { tokenId, owner: 'User:alice', requester: 'User:admin', renewers, maxLifetimeMs },
        nowMs,
      ),
    );
  }
}

const error = (errorCode: number): Partial<ControllerError> => expect.objectContaining({ errorCode });

describe('DelegationTokenControlManager', () => {
  it('creates a token whose expiry and maximum follow the config and the requested lifetime', () => {
    const tokens = new Tokens();
    expect(tokens.create('t1', 100)).toEqual({
      token: {
        tokenId: 't1',
        owner: 'User:alice',
        requester: 'User:admin',
        renewers: [],
        issueTimestampMs: 100,
        maxTimestampMs: 10_100,
        expirationTimestampMs: 3_100,
      },
    });
    expect(tokens.records.map((record) => record.type)).toEqual(['delegationToken']);
    // A requested lifetime below the expiry time caps the expiry; one above the maximum is cut to it.
    expect(tokens.create('t2', 100, 2_000)).toMatchObject({
      token: { maxTimestampMs: 2_100, expirationTimestampMs: 2_100 },
    });
    expect(tokens.create('t3', 100, 50_000)).toMatchObject({ token: { maxTimestampMs: 10_100 } });
    expect([...tokens.image.delegationTokens.keys()]).toEqual(['t1', 't2', 't3']);
  });

  it('refuses a token id that is empty or already taken, with no record', () => {
    const tokens = new Tokens();
    tokens.create('t1', 0);
    expect(tokens.create('t1', 0)).toEqual(error(ControllerErrorCode.INVALID_REQUEST));
    expect(tokens.records).toEqual([]);
    expect(tokens.create('', 0)).toEqual(error(ControllerErrorCode.INVALID_REQUEST));
  });

  it('renews for the owner, the requester and a renewer only, never past the maximum', () => {
    const tokens = new Tokens();
    tokens.create('t1', 0, -1, ['User:bob']);
    const renew = (requester: string, renewPeriodMs: number, nowMs: number) =>
      tokens.run((m, b) => m.renewDelegationToken(b, { tokenId: 't1', requester, renewPeriodMs }, nowMs));
    expect(renew('User:mallory', 1_000, 1_000)).toEqual(
      error(ControllerErrorCode.DELEGATION_TOKEN_OWNER_MISMATCH),
    );
    expect(tokens.records).toEqual([]);
    expect(renew('User:bob', 5_000, 1_000)).toEqual({ expiryTimestampMs: 6_000 });
    expect(renew('User:alice', -1, 2_000)).toEqual({ expiryTimestampMs: 5_000 });
    expect(renew('User:admin', 60_000, 2_000)).toEqual({ expiryTimestampMs: 10_000 });
    expect(tokens.image.delegationTokens.get('t1')?.expirationTimestampMs).toBe(10_000);
    expect(
      tokens.run((m, b) =>
        m.renewDelegationToken(b, { tokenId: 'nope', requester: 'User:alice', renewPeriodMs: 1 }, 0),
      ),
    ).toEqual(error(ControllerErrorCode.DELEGATION_TOKEN_NOT_FOUND));
  });

  it('refuses to renew or expire a token whose expiry has passed', () => {
    const tokens = new Tokens();
    tokens.create('t1', 0);
    expect(
      tokens.run((m, b) =>
        m.renewDelegationToken(b, { tokenId: 't1', requester: 'User:alice', renewPeriodMs: 1 }, 3_001),
      ),
    ).toEqual(error(ControllerErrorCode.DELEGATION_TOKEN_EXPIRED));
    expect(
      tokens.run((m, b) =>
        m.expireDelegationToken(b, { tokenId: 't1', requester: 'User:alice', expiryTimePeriodMs: -1 }, 3_001),
      ),
    ).toEqual(error(ControllerErrorCode.DELEGATION_TOKEN_EXPIRED));
    expect(isDelegationTokenExpired(tokens.image.delegationTokens.get('t1')!, 3_000)).toBe(false);
    expect(isDelegationTokenExpired(tokens.image.delegationTokens.get('t1')!, 3_001)).toBe(true);
  });

  it('expires at a later time, or at once (removing the token) for a negative period', () => {
    const tokens = new Tokens();
    tokens.create('t1', 0);
    tokens.create('t2', 0);
    const expire = (tokenId: string, expiryTimePeriodMs: number) =>
      tokens.run((m, b) =>
        m.expireDelegationToken(b, { tokenId, requester: 'User:admin', expiryTimePeriodMs }, 500),
      );
    expect(expire('t1', 100)).toEqual({ expiryTimestampMs: 600 });
    expect(tokens.image.delegationTokens.get('t1')?.expirationTimestampMs).toBe(600);
    expect(expire('t2', -1)).toEqual({ expiryTimestampMs: 500 });
    expect(tokens.records).toEqual([{ type: 'removeDelegationToken', tokenId: 't2' }]);
    expect(tokens.image.delegationTokens.has('t2')).toBe(false);
  });

  it('removes expired tokens once per check interval, and the rest survive a snapshot', () => {
    const tokens = new Tokens();
    tokens.create('short', 0, 500);
    tokens.create('long', 0);
    expect(tokens.run((m, b) => m.removeExpiredTokensIfDue(b, 999))).toBe(0);
    expect(tokens.manager.nextExpiryCheckDueMs).toBe(1_000);
    expect(tokens.run((m, b) => m.removeExpiredTokensIfDue(b, 1_000))).toBe(1);
    expect(tokens.records).toEqual([{ type: 'removeDelegationToken', tokenId: 'short' }]);
    expect(tokens.manager.nextExpiryCheckDueMs).toBe(2_000);
    const restored = decodeImageSnapshot(encodeImageSnapshot(tokens.image));
    expect(restored.delegationTokens).toEqual(tokens.image.delegationTokens);
  });
});

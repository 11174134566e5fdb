import { ErrorCode } from '@gregor/protocol';
import type { TransactionDescription } from '@gregor/txn';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalClusterFixture } from '../testing/local-cluster-fixture.js';
import type { TransactionCoordinatorDriver } from '../transactions/transaction-coordinator-driver.js';
import {
  transactionalIdMatcher,
  transactionalIdPatternLengthMax,
} from '../transactions/transactional-id-pattern.js';
import { NoResponse, type RequestContext } from './api-handler.js';
import { createListTransactionsHandler } from './list-transactions.js';

let cluster: LocalClusterFixture | undefined;
afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

const ids = ['app-1', 'app-2', 'billing-1', 'xapp-1', 'a'.repeat(40)];

function described(transactionalId: string, producerId: number): TransactionDescription {
  return {
    transactionalId,
    producerId,
    producerEpoch: 0,
    state: 1,
    timeoutMs: 60_000,
    startTimestampMs: 0,
    partitions: [],
  };
}

async function list(pattern: string | null) {
  cluster ??= await LocalClusterFixture.start();
  const driver = {
    transactions: { list: () => ids.map(described), anyLoading: () => false },
  } as unknown as TransactionCoordinatorDriver;
  const handler = createListTransactionsHandler(driver);
  const response = await handler(
    { stateFilters: [], producerIdFilters: [], durationFilter: -1n, transactionalIdPattern: pattern },
    2,
    { broker: cluster.context } as RequestContext,
  );
  if (response instanceof NoResponse) throw new Error('ListTransactions is always answered');
  return response;
}

describe('ListTransactions v2: the transactional id pattern (KIP-1152)', () => {
  it('lists only the ids the whole pattern matches; null or empty lists all', async () => {
    const names = async (pattern: string | null) =>
      (await list(pattern)).transactionStates.map((state) => state.transactionalId);
    expect(await names('app-.*')).toEqual(['app-1', 'app-2']);
    expect(await names('app|billing-1')).toEqual(['billing-1']);
    expect(await names('(app|billing)-[0-9]+')).toEqual(['app-1', 'app-2', 'billing-1']);
    expect(await names(null)).toEqual(ids);
    expect(await names('')).toEqual(ids);
  });

  it('answers INVALID_REGULAR_EXPRESSION, listing nothing, for a pattern that does not compile', async () => {
    for (const pattern of ['(app', '(?=app)app', 'x'.repeat(transactionalIdPatternLengthMax + 1)]) {
      expect(await list(pattern)).toEqual({
        throttleTimeMs: 0,
        errorCode: ErrorCode.INVALID_REGULAR_EXPRESSION,
        unknownStateFilters: [],
        transactionStates: [],
      });
    }
  });

  it('matches in time linear in the id, where a backtracking engine takes exponential time', () => {
    // `(a+)+$` against 'aaa...ab' is the classic catastrophic case for a backtracking engine: 2^n
    // paths. A linear engine answers at once; this asks it with n = 100_000, which a backtracking
    // engine would never finish, so the test finishes only if the engine is linear.
    const matcher = transactionalIdMatcher('(a+)+$');
    if (typeof matcher !== 'function') throw new Error(matcher.error);
    expect(matcher(`${'a'.repeat(100_000)}b`)).toBe(false);
    expect(matcher('a'.repeat(100_000))).toBe(true);
  });
});

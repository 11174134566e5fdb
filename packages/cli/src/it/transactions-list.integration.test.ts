// `gregor transactions list --transactional-id-pattern` against a real Gregor node (@gregor/testkit):
// the pattern goes out in ListTransactions v2 and the node filters by it; one the node cannot
// compile is INVALID_REGULAR_EXPRESSION, exit code 1. The node has no transaction, so a valid pattern
// lists the header only.

import { startCluster, type TestCluster } from '@gregor/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runVerb } from '../testing/run-cli.js';

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startCluster({ brokers: 1 });
});

afterAll(async () => {
  await cluster?.stop();
});

const gregor = (...args: string[]) => runVerb('transactions', cluster.bootstrapServers[0]!, args);

describe('gregor transactions list --transactional-id-pattern', () => {
  it('sends the pattern; a valid one lists what matches (nothing here)', async () => {
    const listed = await gregor('list', '--transactional-id-pattern', 'app-.*');
    expect(listed.code).toBe(0);
    expect(listed.out.trim().split('\n')).toHaveLength(1);
    expect(listed.out).toMatch(/^TransactionalId\s+Coordinator\s+ProducerId\s+TransactionState/);
  });

  it('a pattern the broker cannot compile is INVALID_REGULAR_EXPRESSION, exit 1', async () => {
    const refused = await gregor('list', '--transactional-id-pattern', '(app');
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('INVALID_REGULAR_EXPRESSION');
  });
});

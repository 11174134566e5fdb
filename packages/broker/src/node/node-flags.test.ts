import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { brokerNodeFlags, missingBrokerNodeFlags, youngGenerationSemiSpaceMiBMax } from './node-flags.js';

/**
 * A child Node process started with `flags` allocates 2 million short-lived objects (a fifth kept
 * for a while, as a broker keeps requests in flight) and prints its new space's size in MiB.
 */
function newSpaceMiBAfterChurn(flags: readonly string[]): number {
  const script = `
    const v8 = require('node:v8');
    const kept = [];
    for (let i = 0; i < 2e6; i++) {
      const object = { i, list: [i] };
      if (i % 5 === 0) kept.push(object);
      if (kept.length > 1e5) kept.length = 0;
    }
    const space = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
    process.stdout.write(String(space.space_size / 1048576));`;
  return Number(execFileSync(process.execPath, [...flags, '-e', script], { encoding: 'utf8' }));
}

describe('the Node flags of a broker process', () => {
  it('bound the young generation: the new space stays within two semi-spaces of the maximum', () => {
    // Without them V8's default lets the same churn grow the new space to 32 MiB (two 16 MiB
    // semi-spaces); with them it stays at two of youngGenerationSemiSpaceMiBMax.
    expect(newSpaceMiBAfterChurn([])).toBeGreaterThan(2 * youngGenerationSemiSpaceMiBMax);
    expect(newSpaceMiBAfterChurn(brokerNodeFlags)).toBeLessThanOrEqual(2 * youngGenerationSemiSpaceMiBMax);
  });

  it('names the flags a process was started without, on its command line or in NODE_OPTIONS', () => {
    expect(missingBrokerNodeFlags([], undefined)).toEqual(brokerNodeFlags);
    expect(missingBrokerNodeFlags(['--import', 'x.mjs'], '--enable-source-maps')).toEqual(brokerNodeFlags);
    expect(missingBrokerNodeFlags([...brokerNodeFlags], undefined)).toEqual([]);
    expect(missingBrokerNodeFlags([], `--enable-source-maps ${brokerNodeFlags.join(' ')}`)).toEqual([]);
    // An operator's own value counts as given (and V8 accepts underscores for dashes).
    expect(missingBrokerNodeFlags(['--max-semi-space-size=8'], undefined)).toEqual([]);
    expect(missingBrokerNodeFlags([], ' --max_semi_space_size=1 ')).toEqual([]);
    expect(missingBrokerNodeFlags(['--max-old-space-size=512'], undefined)).toEqual(brokerNodeFlags);
  });
});

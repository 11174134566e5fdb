import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import {
  brokerNodeFlags,
  missingBrokerNodeFlagCost,
  missingBrokerNodeFlags,
  oldGenerationAllocationLimitMiBMin,
  youngGenerationSemiSpaceMiBMax,
} from './node-flags.js';

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

/**
 * A child Node process started with `flags` (and --trace-incremental-marking) keeps ~25 MiB of live
 * objects, as a broker keeps its metadata and partitions, and promotes garbage to the old space
 * (objects that live through two scavenges, as a broker's requests in flight do) until V8 has
 * started several mark-compacts; returns the old-generation allocation limit, in MiB, at which V8
 * started each marking (the `limit` of its `(size/limit/slack)` trace line).
 */
function oldGenerationLimitsMiB(flags: readonly string[]): number[] {
  const script = `
    const live = [];
    for (let i = 0; i < 200000; i++) live.push({ i, name: 'partition-' + i, offsets: [i, i + 1] });
    let survivors = [];
    for (let i = 0; i < 1.2e7; i++) {
      survivors.push({ i, list: [i, i] });
      if (survivors.length === 50000) survivors = [];
    }`;
  const trace = execFileSync(process.execPath, [...flags, '--trace-incremental-marking', '-e', script], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  return [...trace.matchAll(/\(size\/limit\/slack\) v8: \d+MB \/ (\d+)MB/g)].map((match) => Number(match[1]));
}

describe('the Node flags of a broker process', () => {
  it('bound the young generation: the new space stays within two semi-spaces of the maximum', () => {
    // Without them V8's default lets the same churn grow the new space to 32 MiB (two 16 MiB
    // semi-spaces); with them it stays at two of youngGenerationSemiSpaceMiBMax.
    expect(newSpaceMiBAfterChurn([])).toBeGreaterThan(2 * youngGenerationSemiSpaceMiBMax);
    expect(newSpaceMiBAfterChurn(brokerNodeFlags)).toBeLessThanOrEqual(2 * youngGenerationSemiSpaceMiBMax);
  });

  it('keep the old-generation limit at or above its floor, after every mark-compact too', () => {
    // V8 counts the Buffers allocated since the last mark-compact against this limit. Without the
    // floor it sets it from the live heap after each mark-compact, by a growing factor that depends
    // on how fast its collections ran: for this script 15-88 MiB, and below 64 at one marking or
    // more in every run seen; 35-48 MiB in the brokers, where the Buffers in flight then started a
    // mark-compact every ~100 ms (README, "One broker at twice the CPU").
    const limits = oldGenerationLimitsMiB(brokerNodeFlags);
    expect(limits.length).toBeGreaterThanOrEqual(3);
    for (const limit of limits) expect(limit).toBeGreaterThanOrEqual(oldGenerationAllocationLimitMiBMin);
  });

  it('names the flags a process was started without, on its command line or in NODE_OPTIONS', () => {
    expect(missingBrokerNodeFlags([], undefined)).toEqual(brokerNodeFlags);
    expect(missingBrokerNodeFlags(['--import', 'x.mjs'], '--enable-source-maps')).toEqual(brokerNodeFlags);
    expect(missingBrokerNodeFlags([...brokerNodeFlags], undefined)).toEqual([]);
    expect(missingBrokerNodeFlags([], `--enable-source-maps ${brokerNodeFlags.join(' ')}`)).toEqual([]);
    // An operator's own value counts as given (and V8 accepts underscores for dashes).
    expect(
      missingBrokerNodeFlags(['--max-semi-space-size=8', '--initial-old-space-size=32'], undefined),
    ).toEqual([]);
    expect(missingBrokerNodeFlags([], ' --max_semi_space_size=1 --initial_old_space_size=128 ')).toEqual([]);
    expect(missingBrokerNodeFlags(['--max-semi-space-size=8'], undefined)).toEqual([
      `--initial-old-space-size=${oldGenerationAllocationLimitMiBMin}`,
    ]);
    expect(missingBrokerNodeFlags(['--max-old-space-size=512'], undefined)).toEqual(brokerNodeFlags);
    // The warning says what each one is for.
    expect(missingBrokerNodeFlagCost(brokerNodeFlags[0]!)).toContain('young generation');
    expect(missingBrokerNodeFlagCost(brokerNodeFlags[1]!)).toContain('mark-compact');
  });
});

#!/usr/bin/env node
// The append that rolls a segment, alone (session s19, deferred fsync on roll): appends ~16 KiB
// batches of 150 records to one PartitionLog (segment.bytes 128 MiB) until 3 segments rolled, timing
// each append; prints the rolling appends' times, the other appends' p50/p99/max and how long the
// close took. The log lives under .cache/ (the disk the brokers use, not a tmpfs).
// Usage: npm run build && node scripts/bench-roll-append.mjs [<a built packages/storage/dist>]
//        (another dist, e.g. a copy of main's, to compare; run it under the benchmark lock)
// Figures, not a test: it prints to stdout and asserts nothing.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const repo = resolve(fileURLToPath(import.meta.url), '../..');
const distDir = resolve(process.argv[2] ?? join(repo, 'packages/storage/dist'));
const { PartitionLog } = await import(join(distDir, 'partition-log.js'));
const { defaultLogConfig } = await import(join(distDir, 'log-config.js'));
const { buildTestBatch } = await import(join(repo, 'packages/storage/dist-test/testing/batches.js'));
const { systemClock } = await import('@gregor/ground');
await mkdir(join(repo, '.cache'), { recursive: true });
const root = await mkdtemp(join(repo, '.cache/roll-append-'));
const segmentBytes = 128 * 1024 * 1024;
const log = await PartitionLog.open({
  dir: join(root, 't-0'),
  topic: 't',
  partition: 0,
  config: { ...defaultLogConfig, segmentBytes },
  clock: systemClock,
  recoveryPoint: 0,
  logStartOffset: undefined,
  hadCleanShutdown: false,
  checkpoints: { logStartOffsetChanged: async () => {}, recoveryPointLowered: async () => {} },
});
const pool = Array.from({ length: 16 }, (_, i) =>
  buildTestBatch({ recordCount: 150, fillerBytes: 16_000, maxTimestamp: Date.now(), seed: i + 1 }),
);
const others = [];
const rolls = [];
let i = 0;
while (log.segmentBaseOffsets().length < 4) {
  const before = log.segmentBaseOffsets().length;
  const t0 = performance.now();
  await log.append(Buffer.from(pool[i++ % pool.length]), 0);
  const ms = performance.now() - t0;
  (log.segmentBaseOffsets().length > before ? rolls : others).push(ms);
}
others.sort((a, b) => a - b);
const t0 = performance.now();
await log.close();
const closeMs = performance.now() - t0;
await rm(root, { recursive: true, force: true });
console.log(
  `appends ${i}, roll appends ms: ${rolls.map((m) => m.toFixed(1)).join(' / ')}; others p50 ${others[Math.floor(others.length / 2)].toFixed(2)} p99 ${others[Math.floor(others.length * 0.99)].toFixed(2)} max ${others.at(-1).toFixed(1)} ms; close ${closeMs.toFixed(0)} ms`,
);

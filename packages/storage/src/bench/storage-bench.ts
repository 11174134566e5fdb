// Storage benchmark: `npm run bench:storage` (not a test; its name keeps it out of the *.test.ts glob).
//
// 1 KiB records in ~16 KiB batches, built once with encodeRecordBatch and re-appended (append rewrites
// the offsets in place, so re-using a batch buffer is what a broker does with a request buffer).
// Measures, in one run:
//   - log append with the default flush policy (leave it to the OS) and with flush.messages=1
//   - the same bytes written with plain fs FileHandle.write (and write + datasync for "always"),
//     the same write size, as the baseline; the ratio log/plain is the storage overhead
//   - sequential read of the whole log through PartitionLog.read
// Each measurement runs `rounds` times, interleaved, and the best run is reported: the machine is shared
// (other builds and tests run beside it), and the best run is the one least disturbed by them.

import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '@gregor/ground';
import { ErrorCode, encodeRecordBatch } from '@gregor/protocol';
import { type ConfigProps, parseBrokerLogConfig } from '../log-config.js';
import { LogManager } from '../log-manager.js';

const recordBytes = 1024;
const recordsPerBatch = 16;
/** Distinct batch buffers cycled through, so the bytes on disk vary. */
const batchPoolSize = 32;
const defaultPolicyBatchCount = 8_192; // 8 k × ~16.3 KiB ≈ 137 MB per run
const alwaysPolicyBatchCount = 1_000;
const readMaxBytes = 1024 * 1024;
const rounds = 7;

function buildBatches(): Buffer[] {
  const batches: Buffer[] = [];
  for (let b = 0; b < batchPoolSize; b++) {
    const records = Array.from({ length: recordsPerBatch }, (_, r) => {
      const value = Buffer.alloc(recordBytes);
      for (let i = 0; i < recordBytes; i++) value[i] = (b * 31 + r * 7 + i) & 0xff;
      return { timestamp: 1_700_000_000_000 + b, key: Buffer.from(`key-${r}`), value };
    });
    batches.push(encodeRecordBatch({ records }));
  }
  return batches;
}

interface Measurement {
  readonly seconds: number;
  /** Process CPU time (user + system, all threads) during the run: less sensitive to a busy machine. */
  readonly cpuSeconds: number;
  readonly bytes: number;
  readonly batches: number;
}

function megabytesPerSecond(m: Measurement): number {
  return m.bytes / 1e6 / m.seconds;
}

function better(a: Measurement | undefined, b: Measurement): Measurement {
  return a === undefined || b.seconds < a.seconds ? b : a;
}

async function appendToLog(
  dir: string,
  batches: Buffer[],
  count: number,
  props: ConfigProps,
): Promise<Measurement> {
  const manager = await LogManager.open({
    config: parseBrokerLogConfig({ 'log.dirs': dir, ...props }),
    clock: systemClock,
  });
  const log = await manager.getOrCreateLog('bench', 0);
  let bytes = 0;
  const started = process.hrtime.bigint();
  const cpuStarted = process.cpuUsage();
  for (let i = 0; i < count; i++) {
    const batch = batches[i % batches.length]!;
    await log.append(batch, 0);
    bytes += batch.length;
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const cpu = process.cpuUsage(cpuStarted);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  await manager.close();
  return { seconds, cpuSeconds, bytes, batches: count };
}

async function appendToPlainFile(
  path: string,
  batches: Buffer[],
  count: number,
  sync: boolean,
): Promise<Measurement> {
  const handle = await open(path, 'w');
  let bytes = 0;
  const started = process.hrtime.bigint();
  const cpuStarted = process.cpuUsage();
  for (let i = 0; i < count; i++) {
    const batch = batches[i % batches.length]!;
    await handle.write(batch, 0, batch.length, bytes);
    if (sync) await handle.datasync();
    bytes += batch.length;
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const cpu = process.cpuUsage(cpuStarted);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  // Untimed, like the log's close: leave no dirty pages behind to slow down the next measurement.
  await handle.datasync();
  await handle.close();
  return { seconds, cpuSeconds, bytes, batches: count };
}

async function readLog(dir: string): Promise<Measurement> {
  const manager = await LogManager.open({
    config: parseBrokerLogConfig({ 'log.dirs': dir }),
    clock: systemClock,
  });
  const log = await manager.getOrCreateLog('bench', 0);
  let offset = log.logStartOffset;
  let bytes = 0;
  let reads = 0;
  const started = process.hrtime.bigint();
  const cpuStarted = process.cpuUsage();
  while (offset < log.logEndOffset) {
    const result = await log.read(offset, readMaxBytes);
    if (result.errorCode !== ErrorCode.NONE) throw new Error(`read at ${offset} failed: ${result.errorCode}`);
    bytes += result.records.length;
    reads += 1;
    // The next fetch starts after the last returned batch: its lastOffset is in its header.
    let at = 0;
    let lastBatchAt = 0;
    while (at < result.records.length) {
      lastBatchAt = at;
      at += result.records.readInt32BE(at + 8) + 12;
    }
    if (result.records.length === 0) throw new Error(`read at ${offset} returned nothing before the log end`);
    offset = nextOffsetAfter(result.records, lastBatchAt);
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const cpu = process.cpuUsage(cpuStarted);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  await manager.close();
  return { seconds, cpuSeconds, bytes, batches: reads };
}

/** baseOffset (@0) + lastOffsetDelta (@23) + 1 of the batch at `batchAt`. */
function nextOffsetAfter(records: Buffer, batchAt: number): number {
  return Number(records.readBigInt64BE(batchAt)) + records.readInt32BE(batchAt + 23) + 1;
}

function line(label: string, m: Measurement, unit = 'batches'): string {
  const perSecond = m.batches / m.seconds;
  const cpuMicros = (m.cpuSeconds * 1e6) / m.batches;
  const singular = unit === 'batches' ? 'batch' : 'read';
  return `${label.padEnd(44)} ${megabytesPerSecond(m).toFixed(1).padStart(8)} MB/s ${perSecond.toFixed(0).padStart(9)} ${unit}/s  ${cpuMicros.toFixed(1).padStart(6)} CPU µs/${singular}  (${m.batches} ${unit}, ${(m.bytes / 1e6).toFixed(1)} MB, ${m.seconds.toFixed(2)} s)`;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function ratioLine(label: string, pairedRatios: number[], log: Measurement, plain: Measurement): string {
  const best = megabytesPerSecond(log) / megabytesPerSecond(plain);
  const all = pairedRatios.map((r) => r.toFixed(2)).join(' ');
  return `${label}: median of paired rounds ${median(pairedRatios).toFixed(2)} [${all}], best/best ${best.toFixed(2)} (target >= 0.8)`;
}

async function main(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'gregor-storage-bench-'));
  try {
    const batches = buildBatches();
    const batchBytes = batches[0]!.length;
    console.log(
      `storage bench: ${recordsPerBatch} × ${recordBytes} B records per batch, ${batchBytes} B per batch`,
    );
    console.log(`temp dir ${root}`);

    let logDefault: Measurement | undefined;
    let plainDefault: Measurement | undefined;
    let logAlways: Measurement | undefined;
    let plainAlways: Measurement | undefined;
    let read: Measurement | undefined;
    // Ratios of runs made back to back in the same round: slow drift in the machine's load cancels.
    const defaultRatios: number[] = [];
    const alwaysRatios: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const dir = join(root, `round-${round}`);
      const plainPath = join(root, `plain-${round}`);
      // Alternate which one goes first, so neither always runs during the other's writeback.
      let plain: Measurement;
      let log: Measurement;
      if (round % 2 === 0) {
        plain = await appendToPlainFile(plainPath, batches, defaultPolicyBatchCount, false);
        log = await appendToLog(join(dir, 'default'), batches, defaultPolicyBatchCount, {});
      } else {
        log = await appendToLog(join(dir, 'default'), batches, defaultPolicyBatchCount, {});
        plain = await appendToPlainFile(plainPath, batches, defaultPolicyBatchCount, false);
      }
      plainDefault = better(plainDefault, plain);
      logDefault = better(logDefault, log);
      defaultRatios.push(plain.seconds / log.seconds);
      read = better(read, await readLog(join(dir, 'default')));
      const plainSync = await appendToPlainFile(`${plainPath}-sync`, batches, alwaysPolicyBatchCount, true);
      const logSync = await appendToLog(join(dir, 'always'), batches, alwaysPolicyBatchCount, {
        'log.flush.interval.messages': 'always',
      });
      plainAlways = better(plainAlways, plainSync);
      logAlways = better(logAlways, logSync);
      alwaysRatios.push(plainSync.seconds / logSync.seconds);
      await rm(dir, { recursive: true, force: true });
      await rm(plainPath, { recursive: true, force: true });
      await rm(`${plainPath}-sync`, { recursive: true, force: true });
    }
    console.log(`best of ${rounds} rounds:`);
    console.log(line('log append, default flush (OS page cache)', logDefault!));
    console.log(line('plain fs write, same writes', plainDefault!));
    console.log(line('log append, flush.messages=1 (fsync each)', logAlways!));
    console.log(line('plain fs write + datasync each', plainAlways!));
    console.log(line(`log sequential read, ${readMaxBytes} B per read`, read!, 'reads'));
    console.log(
      ratioLine('ratio log/plain append, default flush', defaultRatios, logDefault!, plainDefault!),
    );
    console.log(ratioLine('ratio log/plain append, fsync each   ', alwaysRatios, logAlways!, plainAlways!));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

await main();

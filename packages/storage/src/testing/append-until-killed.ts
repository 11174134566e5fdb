// A process that appends to a partition log until it is killed, for the kill -9 recovery test
// (it/partition-log.kill.integration.test.ts runs the copy
// tsconfig.test-programs.json builds into dist-test/: a child process needs JavaScript). Batch `i` of the sequence is
// always the same bytes, so the test can tell exactly what the log must hold. After each append
// resolves it prints `acked <i> <lastOffset>`. It keeps a few appends in flight, so a kill lands with
// writes under way, and writes the recovery-point checkpoint now and then, as the broker does.
//
//   node append-until-killed.js <log dir> <segment.bytes> <index.interval.bytes>

import { pathToFileURL } from 'node:url';
import { type ConfigProps, parseBrokerLogConfig } from '../log-config.js';
import { LogManager } from '../log-manager.js';
import { buildTestBatch } from './batches.js';

export const killTestTopic = 'killed';
export const killTestLeaderEpoch = 5;
const appendsInFlightMax = 4;
const appendsPerCheckpoint = 50;
/** Stops by itself here (about 16 MB), in case the test that should kill it is gone. */
const appendsMax = 25_000;

/** Batch `i` of the sequence, before the log assigns its offset and epoch. */
export function killTestBatch(i: number): Buffer {
  return buildTestBatch({
    recordCount: 1 + (i % 5),
    fillerBytes: 100 + ((i * 389) % 1100),
    maxTimestamp: 1_700_000_000_000 + 10 * i - (i % 7 === 0 ? 500 : 0),
    seed: i + 1,
  });
}

export function killTestBrokerProps(
  dir: string,
  segmentBytes: number,
  indexIntervalBytes: number,
): ConfigProps {
  return {
    'log.dirs': dir,
    'log.segment.bytes': String(segmentBytes),
    'log.index.interval.bytes': String(indexIntervalBytes),
  };
}

/** The index of the batch that starts at `offset` (batches are appended in sequence from offset 0). */
export function killTestBatchIndexAt(offset: number): number {
  let i = 0;
  for (let next = 0; next < offset; i++) next += 1 + (i % 5);
  return i;
}

async function main(dir: string, segmentBytes: number, indexIntervalBytes: number): Promise<void> {
  const manager = await LogManager.open({
    config: parseBrokerLogConfig(killTestBrokerProps(dir, segmentBytes, indexIntervalBytes)),
    clock: { nowMs: () => Date.now() },
  });
  const log = await manager.getOrCreateLog(killTestTopic, 0);
  let next = killTestBatchIndexAt(log.logEndOffset);
  const inFlight = new Set<Promise<void>>();
  // The test reads every line; once it has gone, so does this process.
  process.stdout.on('error', () => process.exit(1));
  for (let appended = 0; appended < appendsMax; appended++) {
    const i = next++;
    const append = log.append(killTestBatch(i), killTestLeaderEpoch).then(async (result) => {
      process.stdout.write(`acked ${i} ${result.lastOffset}\n`);
      if (i % appendsPerCheckpoint === 0) await manager.checkpointRecoveryPoints();
    });
    const tracked = append.finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
    if (inFlight.size >= appendsInFlightMax) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  await manager.close();
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [dir, segmentBytes, indexIntervalBytes] = process.argv.slice(2);
  main(dir!, Number(segmentBytes), Number(indexIntervalBytes)).catch((error) => {
    process.stderr.write(`${(error as Error).stack}\n`);
    process.exit(1);
  });
}

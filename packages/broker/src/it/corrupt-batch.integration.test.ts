// A batch damaged on disk while the broker was stopped, read by kcat (librdkafka 2.0.2) after a
// clean restart. The open after a clean shutdown trusts the files (only the batches after each
// segment's last index entry are read again), so a damaged length field in the middle of the log
// stays there; a consumer fetching at it must get CORRUPT_MESSAGE, as from Kafka, and not skip the
// offsets up to the next segment nor wait on empty reads for ever. The other partition of the topic
// is still served. In-process, with both partitions in one Fetch and a follower's replica fetch:
// replica/corrupt-batch.test.ts.

import { execFile, execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readInt64AsNumber } from '@gregor/protocol';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ProcessCluster } from '../testing/process-cluster.js';

const kcatTimeoutMs = 30_000;
const topic = 'damaged';
const recordsPerPartition = 10;
const damagedOffset = 5;
/** librdkafka's text for error 2 (CORRUPT_MESSAGE, its RD_KAFKA_RESP_ERR_INVALID_MSG). */
const corruptMessage = /Fetch from broker 1 failed: Broker: Invalid message/;

let cluster: ProcessCluster;

beforeAll(async () => {
  cluster = await ProcessCluster.start({
    nodeCount: 1,
    properties: {
      'num.partitions': '2',
      'default.replication.factor': '1',
      // An index entry for every batch after the first: a clean open re-reads only the last batch.
      'log.index.interval.bytes': '1',
    },
  });
});

afterAll(async () => {
  await cluster?.close();
});

function bootstrap(): string {
  return `127.0.0.1:${cluster.node(1).kafkaPort}`;
}

/** One record per batch (batch.num.messages=1), `count` records to `partition`. */
function produce(partition: number, count: number): void {
  const input = Array.from({ length: count }, (_, i) => `p${partition}-${i}`).join('\n');
  execFileSync(
    'kcat',
    [
      '-b',
      bootstrap(),
      '-P',
      '-t',
      topic,
      '-p',
      String(partition),
      '-X',
      'batch.num.messages=1',
      '-X',
      'linger.ms=0',
    ],
    { input: `${input}\n`, timeout: kcatTimeoutMs, stdio: ['pipe', 'pipe', 'pipe'] },
  );
}

/** kcat -C of one partition from `offset` to its end (-e); resolves whatever its exit code. */
function consume(
  partition: number,
  offset: number,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      'kcat',
      [
        '-b',
        bootstrap(),
        '-C',
        '-t',
        topic,
        '-p',
        String(partition),
        '-o',
        String(offset),
        '-e',
        '-f',
        '%o %s\\n',
      ],
      { encoding: 'utf8', timeout: kcatTimeoutMs },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Sets to 0 the length field of the batch holding `offset` in the `.log` (one batch per record). */
function damageLengthField(file: string, offset: number): void {
  const bytes = readFileSync(file);
  let position = 0;
  while (readInt64AsNumber(bytes, position) !== offset) position += 12 + bytes.readInt32BE(position + 8);
  bytes.writeInt32BE(0, position + 8);
  writeFileSync(file, bytes);
}

it('kcat fetching at a batch whose length field was damaged during a clean shutdown gets CORRUPT_MESSAGE, not a skip', async () => {
  produce(0, recordsPerPartition);
  produce(1, recordsPerPartition);
  const before = await consume(0, 0);
  expect(before.stdout.trim().split('\n')).toHaveLength(recordsPerPartition);

  expect(await cluster.stop(1)).toBe(0);
  damageLengthField(join(cluster.node(1).logDir, `${topic}-0`, '00000000000000000000.log'), damagedOffset);
  await cluster.restart(1);
  await cluster.waitReady();

  // From the start: the batches before the damage, then the error for the one at it.
  const fromStart = await consume(0, 0);
  expect(fromStart.stdout.trim().split('\n')).toEqual(
    Array.from({ length: damagedOffset }, (_, i) => `${i} p0-${i}`),
  );
  expect(fromStart.stderr).toMatch(corruptMessage);
  // At the damaged offset: the error, and nothing after it (the old broker skipped to the end).
  const atDamage = await consume(0, damagedOffset);
  expect(atDamage.stdout.trim()).toBe('');
  expect(atDamage.stderr).toMatch(corruptMessage);
  // The other partition is served as before.
  const other = await consume(1, 0);
  expect(other.stdout.trim().split('\n')).toEqual(
    Array.from({ length: recordsPerPartition }, (_, i) => `${i} p1-${i}`),
  );
});

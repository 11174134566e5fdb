// The client against a second, independent server: librdkafka's mock cluster (mock brokers that
// librdkafka runs inside a python3-confluent-kafka process, `test.mock.num.brokers`), so the client
// is not tested only against the broker it was written with. Two mocks: the current librdkafka's
// (built into .cache/ by scripts/build-librdkafka.sh, as CI does) and Debian's 2.0.2. They found two
// client bugs, fixed here:
//   - responses with bytes after the fields the client knows (the current mock's Metadata v9) were
//     refused; Kafka's clients ignore them, and so does this one now;
//   - OffsetFetch asked for stable offsets at a version that cannot carry the flag (the old mock
//     speaks v5) and failed to encode; it now asks without, as Java's consumer does.
// The group consumer does not run against either mock yet, and the old mock's ListOffsets answers
// are garbled (see the client README).

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { Kafka } from '../kafka.js';
import { logLevel } from '../logger.js';

const mockScript = new URL('./python/librdkafka_mock_cluster.py', import.meta.url).pathname;
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
const startTimeoutMs = 30_000;
const started: ChildProcess[] = [];

/** The lib dir of the librdkafka build in .cache/ (CI builds it before the tests). */
function currentLibrdkafkaLib(): string {
  const cache = join(repoRoot, '.cache', 'librdkafka');
  const built = (existsSync(cache) ? readdirSync(cache) : []).filter(
    (version) => existsSync(join(cache, version, '.complete')) && existsSync(join(cache, version, 'lib')),
  );
  if (built.length === 0) throw new Error('no librdkafka in .cache/: run bash scripts/build-librdkafka.sh');
  return join(cache, built.sort().at(-1)!, 'lib');
}

/** A mock cluster of `brokers` brokers; resolves with its bootstrap servers and librdkafka version. */
async function startMock(
  brokers: number,
  libDir?: string,
): Promise<{ bootstrap: string[]; librdkafka: string }> {
  const env = libDir === undefined ? process.env : { ...process.env, LD_LIBRARY_PATH: libDir };
  const mock = spawn('/usr/bin/python3', [mockScript, String(brokers)], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env,
  });
  started.push(mock);
  let stderr = '';
  mock.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const [line] = (await Promise.race([
    once(mock.stdout!, 'data'),
    new Promise((_, reject) =>
      setTimeout(
        () => reject(new Error(`no mock cluster within ${startTimeoutMs} ms: ${stderr}`)),
        startTimeoutMs,
      ),
    ),
  ])) as [Buffer];
  const answer = JSON.parse(line.toString('utf8')) as { bootstrap: string; librdkafka: string };
  return { bootstrap: answer.bootstrap.split(','), librdkafka: answer.librdkafka };
}

afterAll(() => {
  for (const mock of started) {
    mock.stdin?.end();
    mock.kill();
  }
});

const keyed = Array.from({ length: 60 }, (_, index) => ({
  key: `key-${index % 6}`,
  value: `value-${index}`,
}));

describe("librdkafka's mock cluster", () => {
  it('the current mock takes an idempotent producer: every keyed record acknowledged', async () => {
    const mock = await startMock(3, currentLibrdkafkaLib());
    expect(mock.librdkafka).not.toBe('2.0.2');
    const kafka = new Kafka({ clientId: 'mock-it', brokers: mock.bootstrap, logLevel: logLevel.NOTHING });
    const producer = kafka.producer();
    await producer.connect();
    try {
      const metadata = await producer.send({ topic: 'mock-topic', acks: -1, messages: keyed });
      expect(metadata.every((entry) => entry.errorCode === 0)).toBe(true);
      const admin = kafka.admin();
      await admin.connect();
      try {
        const ends = await admin.fetchTopicOffsets('mock-topic');
        expect(ends.reduce((sum, entry) => sum + Number(entry.high) - Number(entry.low), 0)).toBe(
          keyed.length,
        );
      } finally {
        await admin.disconnect();
      }
    } finally {
      await producer.disconnect();
    }
  });

  it("Debian's 2.0.2 mock: a group's offsets set and read back by the admin (OffsetFetch v5)", async () => {
    const mock = await startMock(3);
    expect(mock.librdkafka).toBe('2.0.2');
    const kafka = new Kafka({ clientId: 'mock-it-old', brokers: mock.bootstrap, logLevel: logLevel.NOTHING });
    const producer = kafka.producer();
    await producer.connect();
    const metadata = await producer.send({ topic: 'mock-old', acks: -1, messages: keyed });
    await producer.disconnect();
    expect(metadata.every((entry) => entry.errorCode === 0)).toBe(true);
    const admin = kafka.admin();
    await admin.connect();
    try {
      const chosen = [
        { partition: 0, offset: '3' },
        { partition: 1, offset: '7' },
      ];
      await admin.setOffsets({ groupId: 'mock-group', topic: 'mock-old', partitions: chosen });
      const [committed] = await admin.fetchOffsets({ groupId: 'mock-group', topics: ['mock-old'] });
      expect(committed!.partitions.filter((entry) => entry.offset !== '-1')).toEqual(
        chosen.map((entry) => ({ ...entry, metadata: null })),
      );
    } finally {
      await admin.disconnect();
    }
  });
});

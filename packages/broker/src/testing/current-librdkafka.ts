// The current librdkafka (2.15, what confluent-kafka for Python, Go, .NET and JavaScript ship), built
// by scripts/build-librdkafka.sh into the git-ignored .cache/. Debian's kcat and
// python3-confluent-kafka run on it through LD_LIBRARY_PATH: librdkafka.so.1 is ABI-stable.

import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

export const currentLibrdkafkaVersion = '2.15.1';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');

/** The directory holding the built librdkafka.so.1; throws with the fix when it was not built. */
export function currentLibrdkafkaDir(): string {
  const libDir = join(
    process.env.LIBRDKAFKA_CACHE_DIR ?? join(repoRoot, '.cache', 'librdkafka'),
    currentLibrdkafkaVersion,
    'lib',
  );
  if (!existsSync(join(libDir, 'librdkafka.so.1')) || !existsSync(join(libDir, '..', '.complete'))) {
    throw new Error(
      `librdkafka ${currentLibrdkafkaVersion} is not built: run bash scripts/build-librdkafka.sh`,
    );
  }
  return libDir;
}

/** The environment that makes kcat and confluent-kafka-python load the current librdkafka. */
export function currentLibrdkafkaEnv(): NodeJS.ProcessEnv {
  return { ...process.env, LD_LIBRARY_PATH: currentLibrdkafkaDir() };
}

/** The librdkafka version kcat reports under `env` (from `kcat -V`), e.g. '2.15.1'. */
export function kcatLibrdkafkaVersion(env: NodeJS.ProcessEnv): string | undefined {
  const output = execFileSync('kcat', ['-V'], { env, encoding: 'utf8' });
  return /librdkafka (\d+\.\d+\.\d+)/.exec(output)?.[1];
}

/**
 * What the three-node clusters of the current-librdkafka client tests share: every topic, the
 * offsets topic included, replicated three ways, and acks=all needing two replicas.
 */
export const replicatedThreeNodeProperties: Readonly<Record<string, string>> = {
  'num.partitions': '3',
  'default.replication.factor': '3',
  'min.insync.replicas': '2',
  'offsets.topic.num.partitions': '5',
  'offsets.topic.replication.factor': '3',
};

/** The most a python client may print: its answer is one JSON document. */
const pythonOutputBytesMax = 16 * 1024 * 1024;

/**
 * Runs the python client at `scriptPath` (confluent-kafka, on the current librdkafka) with one JSON
 * `command` on stdin and returns its JSON answer; fails the test unless the answer says it ran on
 * the current librdkafka.
 */
export function runCurrentLibrdkafkaPython<T>(scriptPath: string, command: object, timeoutMs: number): T {
  const output = execFileSync('/usr/bin/python3', [scriptPath], {
    input: JSON.stringify(command),
    env: currentLibrdkafkaEnv(),
    timeout: timeoutMs,
    maxBuffer: pythonOutputBytesMax,
    encoding: 'utf8',
  });
  const answer = JSON.parse(output) as T & { librdkafka: string };
  expect(answer.librdkafka).toBe(currentLibrdkafkaVersion);
  return answer;
}

// kcat (librdkafka) as an independent client in tests: what it reads back was not decoded by us.

import { execFile } from 'node:child_process';

export interface KcatRecord {
  readonly partition: number;
  readonly offset: number;
  readonly key: string;
  readonly value: string;
}

function run(args: readonly string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile('kcat', args, { maxBuffer: 256 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`kcat ${args.join(' ')}: ${error.message}\n${stderr}`));
      else resolve(stdout);
    });
    if (input !== undefined) child.stdin!.end(input);
  });
}

/**
 * Every record of a topic, read from the beginning to the end of each partition; read_committed
 * (librdkafka's default) leaves out aborted transactions and stops at the last stable offset.
 */
export async function kcatConsumeAll(
  bootstrap: string,
  topic: string,
  isolation?: 'read_uncommitted' | 'read_committed',
): Promise<KcatRecord[]> {
  const out = await run([
    '-b',
    bootstrap,
    ...(isolation === undefined ? [] : ['-X', `isolation.level=${isolation}`]),
    '-C',
    '-t',
    topic,
    '-o',
    'beginning',
    '-e',
    '-q',
    '-f',
    '%p\t%o\t%k\t%s\n',
  ]);
  return out
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => {
      const [partition, offset, key, value] = line.split('\t');
      return { partition: Number(partition), offset: Number(offset), key: key ?? '', value: value ?? '' };
    });
}

/** Produces one record per key with librdkafka's murmur2_random partitioner (the Java client's). */
export async function kcatProduceKeyed(
  bootstrap: string,
  topic: string,
  keys: readonly string[],
): Promise<void> {
  await run(
    ['-b', bootstrap, '-P', '-t', topic, '-K', '\t', '-X', 'partitioner=murmur2_random'],
    `${keys.map((key) => `${key}\tfrom-kcat`).join('\n')}\n`,
  );
}

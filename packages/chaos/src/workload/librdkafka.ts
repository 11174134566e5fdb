// librdkafka clients (confluent-kafka-python, Debian's python3-confluent-kafka) as child processes
// running workers/librdkafka_worker.py: each prints its history as JSON lines, which go to the sink
// as they come. Run on the current librdkafka when scripts/build-librdkafka.sh has built it (through
// LD_LIBRARY_PATH), or on Debian's own.

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, existsSync, readdirSync, type WriteStream } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { HistoryEvent } from '../history.js';
import { stamp } from './time.js';

const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const workerPath = join(packageRoot, 'workers', 'librdkafka_worker.py');
const repoRoot = resolve(packageRoot, '..', '..');
/** How long a worker may take to end after SIGTERM (a producer flushes what it has in flight). */
const stopDeadlineMs = 20_000;

/** The directory of the librdkafka scripts/build-librdkafka.sh built, if it did. */
export function currentLibrdkafkaDir(): string | undefined {
  const cache = join(repoRoot, '.cache', 'librdkafka');
  if (!existsSync(cache)) return undefined;
  for (const version of readdirSync(cache).sort().reverse()) {
    const lib = join(cache, version, 'lib');
    if (existsSync(join(cache, version, '.complete')) && existsSync(join(lib, 'librdkafka.so.1'))) return lib;
  }
  return undefined;
}

export interface WorkerOptions {
  readonly role: 'produce' | 'group' | 'reader' | 'final' | 'txn' | 'ctp';
  readonly name: string;
  readonly bootstrap: string;
  readonly topic: string;
  readonly partitions: number;
  readonly rate?: number;
  readonly acks?: 'all' | '1';
  readonly group?: string;
  readonly rereadSeconds?: number;
  readonly timeoutSeconds?: number;
  /** The transactional producer's seed (which transactions it aborts, their sizes and partitions). */
  readonly seed?: number;
  /** The consume-transform-produce member transforms this producer's records. */
  readonly source?: string;
  /** Run on this librdkafka (a directory with librdkafka.so.1) instead of Debian's. */
  readonly libraryDir?: string;
  /**
   * librdkafka settings the worker adds to its own (security.protocol, sasl.*, ssl.ca.location), as a
   * client properties file; none when undefined.
   */
  readonly clientConfigFile?: string;
  /** Where the worker's stderr goes. */
  readonly logDir: string;
}

export class LibrdkafkaWorker {
  private readonly child: ChildProcess;
  private readonly stderr: WriteStream;
  readonly done: Promise<void>;
  private exited = false;
  /** The campaign asked it to end (stop or crash): an exit then is no news. */
  private ending = false;
  /** The last stderr line that names an error: what a worker that ends by itself died of. */
  private lastError = '';

  constructor(
    readonly options: WorkerOptions,
    sink: (event: HistoryEvent) => void,
  ) {
    const args = [
      workerPath,
      options.role,
      '--bootstrap',
      options.bootstrap,
      '--topic',
      options.topic,
      '--name',
      options.name,
      '--partitions',
      String(options.partitions),
    ];
    if (options.rate !== undefined) args.push('--rate', String(options.rate));
    if (options.acks !== undefined) args.push('--acks', options.acks);
    if (options.group !== undefined) args.push('--group', options.group);
    if (options.rereadSeconds !== undefined) args.push('--reread-s', String(options.rereadSeconds));
    if (options.timeoutSeconds !== undefined) args.push('--timeout-s', String(options.timeoutSeconds));
    if (options.seed !== undefined) args.push('--seed', String(options.seed));
    if (options.source !== undefined) args.push('--source', options.source);
    if (options.clientConfigFile !== undefined) args.push('--client-config', options.clientConfigFile);
    const env = { ...process.env };
    if (options.libraryDir !== undefined) env.LD_LIBRARY_PATH = options.libraryDir;
    this.child = spawn('/usr/bin/python3', args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.stderr = createWriteStream(join(options.logDir, `${options.name}.stderr.log`), { flags: 'a' });
    this.child.stderr!.pipe(this.stderr);
    this.child.stderr!.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n'))
        if (/FATAL|Fatal|Error|Exception/.test(line)) this.lastError = line.trim().slice(0, 400);
    });
    const lines = createInterface({ input: this.child.stdout! });
    lines.on('line', (line) => {
      if (line.trim() === '') return;
      let event: HistoryEvent;
      try {
        event = JSON.parse(line) as HistoryEvent;
      } catch {
        this.stderr.write(`not an event: ${line}\n`);
        return;
      }
      sink(event);
    });
    const closed = once(lines, 'close');
    const exited = once(this.child, 'exit');
    this.done = (async () => {
      const [[exitCode]] = (await Promise.all([exited, closed])) as [[number | null], unknown];
      this.exited = true;
      // A final read ends by itself when done; every other role runs until the campaign ends it.
      if (!this.ending && options.role !== 'final') {
        sink({
          f: 'note',
          type: 'info',
          process: options.name,
          ...stamp(),
          text: `${options.name} ended by itself (exit code ${exitCode})`,
          endedEarly: { exitCode, lastError: this.lastError },
        });
      }
    })();
  }

  get name(): string {
    return this.options.name;
  }

  get running(): boolean {
    return !this.exited;
  }

  /** SIGTERM: the worker finishes cleanly (flush, leave its group); SIGKILL if it takes too long. */
  async stop(): Promise<void> {
    if (this.exited) return;
    this.ending = true;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), stopDeadlineMs);
    await this.done;
    clearTimeout(timer);
  }

  /** kill -9: a client crash, with no goodbye to its group. */
  async crash(): Promise<void> {
    if (this.exited) return;
    this.ending = true;
    this.child.kill('SIGKILL');
    await this.done;
  }
}

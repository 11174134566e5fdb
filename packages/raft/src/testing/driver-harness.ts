/**
 * Helpers for the driver tests: a state machine that records what it applied, a logger that records
 * what it logged, and temp directories. Waits use @gregor/ground/testing's waitFor (no timing
 * assertions anywhere).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RaftTimeouts } from '../core/config.js';
import type { LogEntry, SnapshotId } from '../core/types.js';
import type { RaftLogger, RaftStateMachine, StateMachineSnapshot } from '../driver/types.js';

/**
 * Short timeouts keep the tests quick; they still respect the core's rule
 * fetchMaxWaitMs < requestTimeoutMs < fetchTimeoutMs and stay far above local fsync latencies.
 */
export const TEST_TIMEOUTS: RaftTimeouts = Object.freeze({
  electionTimeoutMs: 200,
  fetchTimeoutMs: 600,
  fetchMaxWaitMs: 80,
  requestTimeoutMs: 200,
  electionBackoffMaxMs: 100,
});

/** Applies data entries as text; its snapshot is the JSON of everything applied. */
export class RecordingStateMachine implements RaftStateMachine {
  applied: string[] = [];
  appliedEndOffset = 0;
  restores: SnapshotId[] = [];

  apply(entries: readonly LogEntry[]): void {
    for (const entry of entries) {
      if (entry.offset !== this.appliedEndOffset) {
        throw new Error(`applied ${entry.offset}, expected ${this.appliedEndOffset}`);
      }
      this.appliedEndOffset++;
      if (entry.type === 'data') this.applied.push(new TextDecoder().decode(entry.payload));
    }
  }

  snapshot(): StateMachineSnapshot {
    return {
      bytes: new TextEncoder().encode(JSON.stringify(this.applied)),
      endOffset: this.appliedEndOffset,
    };
  }

  restore(bytes: Uint8Array, id: SnapshotId): void {
    this.applied = JSON.parse(new TextDecoder().decode(bytes)) as string[];
    this.appliedEndOffset = id.endOffset;
    this.restores.push(id);
  }
}

export interface LogLine {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly fields: Record<string, unknown>;
  readonly message: string;
}

export class RecordingLogger implements RaftLogger {
  readonly lines: LogLine[] = [];
  debug(fields: object, message: string): void {
    this.lines.push({ level: 'debug', fields: fields as Record<string, unknown>, message });
  }
  info(fields: object, message: string): void {
    this.lines.push({ level: 'info', fields: fields as Record<string, unknown>, message });
  }
  warn(fields: object, message: string): void {
    this.lines.push({ level: 'warn', fields: fields as Record<string, unknown>, message });
  }
  error(fields: object, message: string): void {
    this.lines.push({ level: 'error', fields: fields as Record<string, unknown>, message });
  }
}

export class TempDirectories {
  private readonly directories: string[] = [];

  async create(prefix: string): Promise<string> {
    const directory = await mkdtemp(join(tmpdir(), prefix));
    this.directories.push(directory);
    return directory;
  }

  async removeAll(): Promise<void> {
    await Promise.all(
      this.directories.splice(0).map((directory) => rm(directory, { recursive: true, force: true })),
    );
  }
}

export const encode = (text: string): Uint8Array => new TextEncoder().encode(text);

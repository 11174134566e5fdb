// Which leader epoch wrote which offsets of one partition replica (Kafka's LeaderEpochFileCache,
// KIP-101/KIP-279): an ordered list of (epoch, start offset), one entry per epoch that wrote at
// least one batch here or that this broker led. Replication uses it to find where two replicas' logs
// split: the end offset of epoch E on a replica is the start offset of the first later epoch, or its
// log end offset if E is the latest.
//
// Pure: no I/O, no clock. The driver persists `formatLeaderEpochCheckpoint(cache.entries)` to the
// partition's `leader-epoch-checkpoint` file whenever `assign` or a truncation changed the entries.
//
// Invariants (checked on every change): epochs strictly increase, start offsets never decrease.

import { invariant } from '@gregor/ground';

export interface EpochEntry {
  readonly epoch: number;
  readonly startOffset: number;
}

export interface EpochEndOffset {
  /** -1 when no epoch at or below the requested one is known. */
  readonly epoch: number;
  /** -1 when `epoch` is -1. */
  readonly endOffset: number;
}

export const undefinedEpoch = -1;
export const undefinedEpochOffset = -1;

/** Kafka's leader-epoch-checkpoint version line. */
export const leaderEpochCheckpointVersion = 0;
export const leaderEpochCheckpointFileName = 'leader-epoch-checkpoint';

export class LeaderEpochCache {
  private entriesValue: EpochEntry[];
  private versionValue = 0;

  constructor(entries: readonly EpochEntry[] = []) {
    this.entriesValue = [...entries];
    this.checkInvariants();
  }

  get entries(): readonly EpochEntry[] {
    return this.entriesValue;
  }

  /** Bumped on every change, so a driver persists only when something changed. */
  get version(): number {
    return this.versionValue;
  }

  /** The newest epoch, -1 when empty. */
  get latestEpoch(): number {
    return this.entriesValue[this.entriesValue.length - 1]?.epoch ?? undefinedEpoch;
  }

  /**
   * Epoch `epoch` starts at `startOffset`. Ignored when `epoch` is not newer than the latest one
   * (a follower sees many batches of the same epoch; a leader re-assigning its epoch is a no-op).
   * An entry with the same start offset is replaced: the earlier epoch wrote nothing there (a leader
   * that never appended), so it owns no offsets. Returns whether the entries changed.
   */
  assign(epoch: number, startOffset: number): boolean {
    invariant(epoch >= 0 && startOffset >= 0, () => `assign(${epoch}, ${startOffset})`);
    const latest = this.entriesValue[this.entriesValue.length - 1];
    if (latest !== undefined && epoch <= latest.epoch) return false;
    invariant(
      latest === undefined || startOffset >= latest.startOffset,
      () =>
        `epoch ${epoch} starts at ${startOffset}, before epoch ${latest?.epoch} at ${latest?.startOffset}`,
    );
    while (
      this.entriesValue.length > 0 &&
      this.entriesValue[this.entriesValue.length - 1]!.startOffset === startOffset
    ) {
      this.entriesValue.pop();
    }
    this.entriesValue.push({ epoch, startOffset });
    this.versionValue++;
    this.checkInvariants();
    return true;
  }

  /**
   * Kafka's `endOffsetFor`: the largest epoch <= `requestedEpoch` and the offset where it ends (the
   * start of the next epoch, or `logEndOffset` when it is the latest). When every known epoch is
   * newer than `requestedEpoch`, `requestedEpoch` itself ending where the first known epoch starts
   * (a follower holding only an epoch this cache never had must truncate to there; answering
   * "unknown" instead let such stale batches survive below the high watermark, as the replication
   * simulation found). When `requestedEpoch` is the latest or newer, the latest epoch ending at
   * `logEndOffset`.
   */
  endOffsetFor(requestedEpoch: number, logEndOffset: number): EpochEndOffset {
    const entries = this.entriesValue;
    if (requestedEpoch === undefinedEpoch || entries.length === 0) {
      return { epoch: undefinedEpoch, endOffset: undefinedEpochOffset };
    }
    // Index of the first entry with epoch > requestedEpoch.
    let next = entries.findIndex((entry) => entry.epoch > requestedEpoch);
    if (next === -1) next = entries.length;
    if (next === 0) return { epoch: requestedEpoch, endOffset: entries[0]!.startOffset };
    const floor = entries[next - 1]!;
    const endOffset = next < entries.length ? entries[next]!.startOffset : logEndOffset;
    return { epoch: floor.epoch, endOffset };
  }

  /** The log was truncated to `endOffset`: entries starting at or after it name offsets that are gone. */
  truncateFromEnd(endOffset: number): boolean {
    const before = this.entriesValue.length;
    this.entriesValue = this.entriesValue.filter((entry) => entry.startOffset < endOffset);
    if (this.entriesValue.length === before) return false;
    this.versionValue++;
    return true;
  }

  /**
   * The log start moved to `startOffset` (retention, or a follower restarting its log): entries that
   * end at or below it go, and the one that covers it now starts there.
   */
  truncateFromStart(startOffset: number): boolean {
    const entries = this.entriesValue;
    let firstKept = 0;
    while (firstKept + 1 < entries.length && entries[firstKept + 1]!.startOffset <= startOffset) firstKept++;
    const kept = entries.slice(firstKept);
    const first = kept[0];
    if (first !== undefined && first.startOffset < startOffset) {
      kept[0] = { epoch: first.epoch, startOffset };
    }
    const changed =
      kept.length !== entries.length || (first !== undefined && first.startOffset < startOffset);
    this.entriesValue = kept;
    if (changed) this.versionValue++;
    this.checkInvariants();
    return changed;
  }

  /** The epoch that wrote `offset`, -1 if unknown (ListOffsets' leader_epoch). */
  epochForOffset(offset: number): number {
    let epoch = undefinedEpoch;
    for (const entry of this.entriesValue) {
      if (entry.startOffset > offset) break;
      epoch = entry.epoch;
    }
    return epoch;
  }

  private checkInvariants(): void {
    for (let i = 1; i < this.entriesValue.length; i++) {
      const previous = this.entriesValue[i - 1]!;
      const current = this.entriesValue[i]!;
      invariant(
        current.epoch > previous.epoch && current.startOffset >= previous.startOffset,
        () => `leader epoch entries out of order: ${JSON.stringify(this.entriesValue)}`,
      );
    }
  }
}

/** Kafka's text format: `0\n<count>\n<epoch> <startOffset>\n...`. */
export function formatLeaderEpochCheckpoint(entries: readonly EpochEntry[]): string {
  const lines = [String(leaderEpochCheckpointVersion), String(entries.length)];
  for (const entry of entries) lines.push(`${entry.epoch} ${entry.startOffset}`);
  return `${lines.join('\n')}\n`;
}

/**
 * Parses a leader-epoch-checkpoint; undefined when the text is not a valid version-0 file (a torn
 * write cannot happen with the atomic rename, so that means a foreign or corrupt file). The caller
 * then starts with an empty cache: the follower's first fetch carries lastFetchedEpoch -1, which
 * skips the divergence check, so the caller must rebuild the cache from the log instead.
 */
export function parseLeaderEpochCheckpoint(text: string): EpochEntry[] | undefined {
  const lines = text.split('\n').filter((line) => line.length > 0);
  if (lines[0] !== String(leaderEpochCheckpointVersion)) return undefined;
  const count = Number(lines[1]);
  if (!Number.isSafeInteger(count) || count !== lines.length - 2) return undefined;
  const entries: EpochEntry[] = [];
  for (const line of lines.slice(2)) {
    const match = /^(\d+) (\d+)$/.exec(line);
    if (match === null) return undefined;
    const entry = { epoch: Number(match[1]), startOffset: Number(match[2]) };
    if (!Number.isSafeInteger(entry.epoch) || !Number.isSafeInteger(entry.startOffset)) return undefined;
    const previous = entries[entries.length - 1];
    if (
      previous !== undefined &&
      (entry.epoch <= previous.epoch || entry.startOffset < previous.startOffset)
    ) {
      return undefined;
    }
    entries.push(entry);
  }
  return entries;
}

import type { LogEntry, RaftNode, SnapshotId } from '@gregor/raft';

/** A broken safety property; the message names the node, epoch and offset. */
export class SafetyViolation extends Error {
  override readonly name = 'SafetyViolation';
}

function check(condition: boolean, message: () => string): asserts condition {
  if (!condition) throw new SafetyViolation(message());
}

interface EntryFacts {
  readonly payloadKey: string;
  readonly type: LogEntry['type'];
  readonly previousEpoch: number;
}

interface CommittedEntry {
  readonly epoch: number;
  readonly payloadKey: string;
  /**
   * Lowest epoch a node was in when it saw the entry committed. Leader completeness only binds leaders
   * of later epochs: a stale candidate may still win an older epoch after a newer leader committed.
   */
  commitEpoch: number;
}

export function payloadKey(payload: Uint8Array): string {
  return String.fromCharCode(...payload);
}

/**
 * Raft's safety properties, checked after every simulated event:
 * - election safety: at most one leader per epoch, ever;
 * - log matching: every entry (offset, epoch) any node ever writes has the same payload and follows
 *   the same previous epoch; by induction, equal (offset, epoch) means an equal prefix;
 * - leader completeness: a new leader holds every entry committed so far;
 * - state-machine safety: no two nodes apply different entries at an offset, and a snapshot restores
 *   exactly the state the applied entries produced;
 * - committed data never changes and a node's high watermark never moves back while it stays up.
 * The checks are incremental (each entry is checked once, when it enters a Ready) so that thousands of
 * seeds stay fast; fullLogMatchingCheck() re-checks whole logs at the end of a run.
 */
export class RaftSafetyChecker {
  private readonly leaderOfEpoch = new Map<number, number>();
  /** key `${offset}:${epoch}` */
  private readonly entries = new Map<string, EntryFacts>();
  /** committed[offset] */
  private readonly committed: (CommittedEntry | undefined)[] = [];
  /** State-machine digest after applying every entry below the index. */
  private readonly digestAtEnd = new Map<number, number>([[0, 0]]);
  private readonly highWatermarkSeen = new Map<number, number>();

  get committedEndOffset(): number {
    return this.committed.length;
  }

  /** Log matching: called with the entries of each Ready, while the node's log still holds them. */
  onEntriesWritten(nodeId: number, node: RaftNode, entries: readonly LogEntry[]): void {
    for (const entry of entries) {
      const previousEpoch = entry.offset === 0 ? 0 : node.epochAt(entry.offset - 1);
      check(previousEpoch !== undefined, () => `node ${nodeId}: no entry before offset ${entry.offset}`);
      const facts: EntryFacts = { payloadKey: payloadKey(entry.payload), type: entry.type, previousEpoch };
      const key = `${entry.offset}:${entry.epoch}`;
      const known = this.entries.get(key);
      if (known === undefined) {
        this.entries.set(key, facts);
        continue;
      }
      check(
        known.payloadKey === facts.payloadKey && known.type === facts.type,
        () =>
          `log matching: node ${nodeId} has a different entry at offset ${entry.offset} epoch ${entry.epoch}`,
      );
      check(
        known.previousEpoch === facts.previousEpoch,
        () =>
          `log matching: node ${nodeId} offset ${entry.offset} epoch ${entry.epoch} follows epoch ` +
          `${facts.previousEpoch}, another node's follows ${known.previousEpoch}`,
      );
    }
  }

  /** Per-event checks of one live node. */
  onNodeState(nodeId: number, node: RaftNode): void {
    const status = node.status();
    check(
      status.highWatermark <= status.logEndOffset || status.highWatermark === status.logStartOffset,
      () => `node ${nodeId}: high watermark ${status.highWatermark} above log end ${status.logEndOffset}`,
    );
    if (status.role === 'leader') {
      const known = this.leaderOfEpoch.get(status.epoch);
      check(
        known === undefined || known === nodeId,
        () => `election safety: nodes ${known} and ${nodeId} both led epoch ${status.epoch}`,
      );
      if (known === undefined) {
        this.leaderOfEpoch.set(status.epoch, nodeId);
        this.checkLeaderCompleteness(nodeId, node);
      }
    }
    const previous = this.highWatermarkSeen.get(nodeId) ?? 0;
    check(
      status.highWatermark >= previous,
      () => `node ${nodeId}: high watermark went back from ${previous} to ${status.highWatermark}`,
    );
    if (status.highWatermark > previous) {
      const snapshot = node.snapshotId();
      if (previous < snapshot.endOffset) this.checkSnapshotCommitted(nodeId, snapshot);
      for (let offset = Math.max(previous, snapshot.endOffset); offset < status.highWatermark; offset++) {
        const entry = node.entryAt(offset);
        check(entry !== undefined, () => `node ${nodeId}: committed offset ${offset} missing from its log`);
        this.onCommitted(nodeId, entry, status.epoch);
      }
      this.highWatermarkSeen.set(nodeId, status.highWatermark);
    }
  }

  /** A restarted node learns its high watermark again; only an up node must never go back. */
  onRestart(nodeId: number): void {
    this.highWatermarkSeen.delete(nodeId);
  }

  /** State-machine safety: a node applies an entry; returns the digest after it. */
  onApplied(nodeId: number, entry: LogEntry, digestBefore: number, nodeEpoch: number): number {
    this.onCommitted(nodeId, entry, nodeEpoch);
    const digest = nextDigest(digestBefore, entry);
    const known = this.digestAtEnd.get(entry.offset + 1);
    if (known === undefined) this.digestAtEnd.set(entry.offset + 1, digest);
    else
      check(known === digest, () => `node ${nodeId}: state differs from others after offset ${entry.offset}`);
    return digest;
  }

  /** A snapshot restored on a node must hold the state everyone else had at its end offset. */
  onSnapshotRestored(nodeId: number, endOffset: number, digest: number): void {
    const known = this.digestAtEnd.get(endOffset);
    check(
      known === undefined || known === digest,
      () => `node ${nodeId}: snapshot at ${endOffset} restores a state no one applied`,
    );
  }

  /** Log matching over whole logs, pairwise. */
  fullLogMatchingCheck(nodes: ReadonlyMap<number, RaftNode>): void {
    const list = [...nodes];
    for (let i = 0; i < list.length; i++) {
      for (let j = i + 1; j < list.length; j++) {
        const [idA, a] = list[i]!;
        const [idB, b] = list[j]!;
        const start = Math.max(a.status().logStartOffset, b.status().logStartOffset);
        const end = Math.min(a.status().logEndOffset, b.status().logEndOffset);
        let lastSameEpoch = -1;
        for (let offset = start; offset < end; offset++) {
          if (a.entryAt(offset)?.epoch === b.entryAt(offset)?.epoch) lastSameEpoch = offset;
        }
        for (let offset = start; offset <= lastSameEpoch; offset++) {
          const entryA = a.entryAt(offset)!;
          const entryB = b.entryAt(offset)!;
          check(
            entryA.epoch === entryB.epoch && payloadKey(entryA.payload) === payloadKey(entryB.payload),
            () => `log matching: nodes ${idA} and ${idB} differ at ${offset}, below a shared (offset, epoch)`,
          );
        }
      }
    }
  }

  private onCommitted(nodeId: number, entry: LogEntry, nodeEpoch: number): void {
    const key = payloadKey(entry.payload);
    const known = this.committed[entry.offset];
    if (known === undefined) {
      check(
        entry.offset <= this.committed.length,
        () => `node ${nodeId}: committed ${entry.offset} past unknown offsets`,
      );
      this.committed[entry.offset] = { epoch: entry.epoch, payloadKey: key, commitEpoch: nodeEpoch };
      return;
    }
    known.commitEpoch = Math.min(known.commitEpoch, nodeEpoch);
    check(
      known.epoch === entry.epoch && known.payloadKey === key,
      () =>
        `committed data changed: node ${nodeId} has epoch ${entry.epoch} at committed offset ${entry.offset}`,
    );
  }

  private checkSnapshotCommitted(nodeId: number, snapshot: SnapshotId): void {
    const known = this.committed[snapshot.endOffset - 1];
    check(
      known === undefined || known.epoch === snapshot.epoch,
      () => `node ${nodeId}: snapshot ends at an entry of epoch ${snapshot.epoch}, committed one differs`,
    );
  }

  private checkLeaderCompleteness(nodeId: number, node: RaftNode): void {
    const status = node.status();
    for (let offset = status.logStartOffset; offset < this.committed.length; offset++) {
      const committed = this.committed[offset];
      if (committed !== undefined && committed.commitEpoch >= status.epoch) continue;
      const entry = node.entryAt(offset);
      check(
        committed !== undefined &&
          entry !== undefined &&
          entry.epoch === committed.epoch &&
          payloadKey(entry.payload) === committed.payloadKey,
        () =>
          `leader completeness: leader ${nodeId} of epoch ${status.epoch} lacks committed offset ${offset}`,
      );
    }
  }
}

/** FNV-1a over the entry, chained: the simulated state machine's whole state is this digest. */
export function nextDigest(digest: number, entry: LogEntry): number {
  let hash = (digest ^ 0x811c9dc5) >>> 0;
  const mix = (byte: number): void => {
    hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  };
  mix(entry.offset & 0xff);
  mix(entry.type === 'data' ? 1 : 2);
  for (const byte of entry.payload) mix(byte);
  return hash;
}

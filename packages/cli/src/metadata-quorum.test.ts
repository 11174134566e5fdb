import { describe, expect, it } from 'vitest';
import { followerLag, runMetadataQuorum } from './metadata-quorum.js';

function capture() {
  let text = '';
  return {
    write: (chunk: string) => {
      text += chunk;
    },
    text: () => text,
  };
}

const voter = (replicaId: number, logEndOffset: bigint, lastCaughtUpTimestamp: bigint) => ({
  replicaId,
  replicaDirectoryId: '00000000000000000000000000000000',
  logEndOffset,
  lastFetchTimestamp: lastCaughtUpTimestamp,
  lastCaughtUpTimestamp,
  unknownTaggedFields: new Map(),
});

const partition = (voters: ReturnType<typeof voter>[]) => ({
  partitionIndex: 0,
  errorCode: 0,
  errorMessage: null,
  leaderId: 1,
  leaderEpoch: 3,
  highWatermark: 100n,
  currentVoters: voters,
  observers: [],
  unknownTaggedFields: new Map(),
});

describe('gregor metadata-quorum', () => {
  it.each([
    [['describe', '--status'], '--bootstrap-server is required'],
    [['--bootstrap-server', 'h:1', 'describe'], 'exactly one of --status or --replication'],
    [['--bootstrap-server', 'h:1', 'describe', '--status', '--replication'], 'exactly one of'],
    [['--bootstrap-server', 'h:1', 'frob', '--status'], "unknown command 'frob'"],
    [['--bootstrap-server', 'h:1', 'describe', '--nope'], "unknown option '--nope'"],
  ])('%j is a usage error: %s', async (args, message) => {
    const out = capture();
    const err = capture();
    expect(await runMetadataQuorum(args, out, err)).toBe(2);
    expect(err.text()).toContain(message);
  });

  it("computes Kafka's MaxFollowerLag and MaxFollowerLagTimeMs from the furthest replica", () => {
    expect(
      followerLag(partition([voter(1, 100n, 5_000n), voter(2, 100n, 5_000n), voter(3, 90n, 4_200n)])),
    ).toEqual({
      lag: 10n,
      lagTimeMs: 800n,
    });
    // Everyone at the leader's end: the leader itself is the furthest, lag 0 and 0 ms.
    expect(followerLag(partition([voter(1, 100n, 5_000n), voter(2, 100n, 5_000n)]))).toEqual({
      lag: 0n,
      lagTimeMs: 0n,
    });
    // A voter that never caught up: its lag time is unknown.
    expect(followerLag(partition([voter(1, 100n, 5_000n), voter(2, -1n, -1n)]))).toEqual({
      lag: 101n,
      lagTimeMs: -1n,
    });
  });
});

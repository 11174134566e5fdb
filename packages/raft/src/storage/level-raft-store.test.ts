import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Ready } from '../core/node.js';
import type { LogEntry } from '../core/types.js';
import { LevelRaftStore } from './level-raft-store.js';

const directories: string[] = [];
afterEach(async () => {
  await Promise.all(
    directories.splice(0).map((directory) => rm(directory, { recursive: true, force: true })),
  );
});

async function tempDirectory(): Promise<string> {
  const directory = await mkdtemp(join(tmpdir(), 'gregor-raft-store-'));
  directories.push(directory);
  return directory;
}

const entry = (offset: number, epoch: number, text = `v${offset}`): LogEntry => ({
  offset,
  epoch,
  type: offset === 0 ? 'leader-change' : 'data',
  payload: new TextEncoder().encode(text),
});

function ready(fields: Partial<Ready>): Ready {
  return {
    hardState: undefined,
    truncateFromOffset: undefined,
    snapshot: undefined,
    entries: [],
    readyId: 0,
    ...fields,
  };
}

describe('LevelRaftStore', () => {
  it('reads back hard state and entries after reopening', async () => {
    const directory = await tempDirectory();
    const store = await LevelRaftStore.open(directory);
    expect(await store.load()).toEqual({
      hardState: { epoch: 0, votedFor: undefined },
      snapshot: undefined,
      entries: [],
    });
    await store.persist(ready({ hardState: { epoch: 3, votedFor: 2 }, entries: [entry(0, 1), entry(1, 3)] }));
    await store.persist(ready({ hardState: { epoch: 4, votedFor: undefined }, entries: [entry(2, 4)] }));
    await store.close();
    const reopened = await LevelRaftStore.open(directory);
    expect(await reopened.load()).toEqual({
      hardState: { epoch: 4, votedFor: undefined },
      snapshot: undefined,
      entries: [entry(0, 1), entry(1, 3), entry(2, 4)],
    });
    await reopened.close();
  });

  it('truncates a divergent tail and appends the replacement in one batch', async () => {
    const store = await LevelRaftStore.open(await tempDirectory());
    await store.persist(ready({ entries: [entry(0, 1), entry(1, 1), entry(2, 1), entry(3, 1)] }));
    await store.persist(ready({ truncateFromOffset: 2, entries: [entry(2, 2, 'new')] }));
    expect((await store.load()).entries).toEqual([entry(0, 1), entry(1, 1), entry(2, 2, 'new')]);
    await store.close();
  });

  it('keeps the snapshot and trims the log behind it; an installed snapshot replaces the log', async () => {
    const directory = await tempDirectory();
    const store = await LevelRaftStore.open(directory);
    await store.persist(ready({ entries: [0, 1, 2, 3, 4].map((offset) => entry(offset, 1)) }));
    const local = { id: { endOffset: 3, epoch: 1 }, bytes: new Uint8Array([7, 7]) };
    await store.persist(ready({ snapshot: local }));
    expect(await store.load()).toMatchObject({ snapshot: local, entries: [entry(3, 1), entry(4, 1)] });
    const fromLeader = { id: { endOffset: 10, epoch: 5 }, bytes: new Uint8Array([9]) };
    await store.persist(ready({ truncateFromOffset: 3, snapshot: fromLeader, entries: [entry(10, 5)] }));
    await store.close();
    const reopened = await LevelRaftStore.open(directory);
    expect(await reopened.load()).toEqual({
      hardState: { epoch: 0, votedFor: undefined },
      snapshot: fromLeader,
      entries: [entry(10, 5)],
    });
    await reopened.close();
  });
});

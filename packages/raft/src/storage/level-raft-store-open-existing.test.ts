import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LevelRaftStore, RaftStoreLockedError, RaftStoreNotFoundError } from './level-raft-store.js';

const directories: string[] = [];
afterEach(async () => {
  await Promise.all(
    directories.splice(0).map((directory) => rm(directory, { recursive: true, force: true })),
  );
});

async function tempDirectory(): Promise<string> {
  const directory = await mkdtemp(join(tmpdir(), 'gregor-raft-store-existing-'));
  directories.push(directory);
  return directory;
}

describe('LevelRaftStore.openExisting (offline tools)', () => {
  it('reads a store another opener wrote and closed', async () => {
    const directory = await tempDirectory();
    const writer = await LevelRaftStore.open(directory);
    await writer.persist({
      hardState: { epoch: 2, votedFor: 1 },
      truncateFromOffset: undefined,
      snapshot: undefined,
      entries: [{ offset: 0, epoch: 2, type: 'leader-change', payload: new Uint8Array() }],
      readyId: 0,
    });
    await writer.close();
    const reader = await LevelRaftStore.openExisting(directory);
    const state = await reader.load();
    await reader.close();
    expect(state.hardState).toEqual({ epoch: 2, votedFor: 1 });
    expect(state.entries.map((entry) => entry.offset)).toEqual([0]);
  });

  it('refuses a store held open by someone else with RaftStoreLockedError', async () => {
    const directory = await tempDirectory();
    const holder = await LevelRaftStore.open(directory);
    try {
      await expect(LevelRaftStore.openExisting(directory)).rejects.toBeInstanceOf(RaftStoreLockedError);
    } finally {
      await holder.close();
    }
  });

  it('does not create a store in a directory without one', async () => {
    const directory = join(await tempDirectory(), 'missing');
    await expect(LevelRaftStore.openExisting(directory)).rejects.toBeInstanceOf(RaftStoreNotFoundError);
  });
});

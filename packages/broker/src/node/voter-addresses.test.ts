import { pbkdf2 } from 'node:crypto';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type WaitForOptions, waitFor } from '@gregor/ground/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../logging.js';
import {
  boundListenersFileName,
  readBoundListeners,
  readBoundMetricsPort,
  writeBoundListeners,
} from './bound-listeners.js';
import { VoterAddresses } from './voter-addresses.js';

const logger = createLogger({ nodeId: 1, level: 'silent', prettyPrint: false });
const unknownPorts = [1, 2, 3].map((id) => ({ id, host: '127.0.0.1', port: 0 }));

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gregor-voters-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Replaces the file atomically, as a launcher must. */
function writeVoters(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

// Generous: fs.watchFile polls, and a loaded CI machine can delay a poll by seconds.
const waitOptions: WaitForOptions = { timeoutMs: 30_000, intervalMs: 10 };

describe('VoterAddresses', () => {
  it('without a file: the configured addresses, this node at the port it bound', async () => {
    const addresses = await VoterAddresses.open({
      nodeId: 1,
      voters: [
        { id: 1, host: '127.0.0.1', port: 0 },
        { id: 2, host: '::1', port: 9193 },
      ],
      boundPort: 40001,
      file: '',
      logger,
    });
    expect(addresses.addressOf(1)).toBe('127.0.0.1:40001');
    expect(addresses.addressOf(2)).toBe('[::1]:9193');
    expect(addresses.addressOf(3)).toBeUndefined();
    addresses.close();
  });

  it('waits for the file to name every voter, then follows its changes', async () => {
    const file = join(dir, 'quorum-voters');
    const opening = VoterAddresses.open({ nodeId: 1, voters: unknownPorts, boundPort: 40001, file, logger });
    // Not there yet, then incomplete: still waiting.
    await new Promise((resolve) => setTimeout(resolve, 100));
    writeVoters(file, '1@127.0.0.1:40001,2@127.0.0.1:0,3@127.0.0.1:0');
    await new Promise((resolve) => setTimeout(resolve, 100));
    let opened = false;
    void opening.then(() => {
      opened = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(opened).toBe(false);
    writeVoters(file, '1@127.0.0.1:40001,2@127.0.0.1:40002,3@127.0.0.1:40003');
    const addresses = await opening;
    try {
      expect(addresses.voters).toEqual([
        { id: 1, host: '127.0.0.1', port: 40001 },
        { id: 2, host: '127.0.0.1', port: 40002 },
        { id: 3, host: '127.0.0.1', port: 40003 },
      ]);
      // Voter 3 restarted on another port.
      writeVoters(file, '1@127.0.0.1:40001,2@127.0.0.1:40002,3@127.0.0.1:40033');
      await waitFor(
        'the new address of voter 3',
        () => addresses.addressOf(3) === '127.0.0.1:40033',
        waitOptions,
      );
      // A file naming other voters is ignored; the addresses stay.
      writeVoters(file, '1@127.0.0.1:40001,2@127.0.0.1:40002,4@127.0.0.1:40004');
      writeVoters(file, '1@127.0.0.1:40001,2@127.0.0.1:40022,4@127.0.0.1:40004');
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect([addresses.addressOf(2), addresses.addressOf(3)]).toEqual([
        '127.0.0.1:40002',
        '127.0.0.1:40033',
      ]);
    } finally {
      addresses.close();
    }
  });

  it('several nodes of one process watch the same file: one closing leaves the others following it', async () => {
    const file = join(dir, 'quorum-voters');
    writeVoters(file, '1@127.0.0.1:40001,2@127.0.0.1:40002,3@127.0.0.1:40003');
    const [first, second, third] = await Promise.all(
      [1, 2, 3].map((nodeId) =>
        VoterAddresses.open({ nodeId, voters: unknownPorts, boundPort: 40000 + nodeId, file, logger }),
      ),
    );
    try {
      second!.close();
      writeVoters(file, '1@127.0.0.1:40001,2@127.0.0.1:40022,3@127.0.0.1:40003');
      await waitFor(
        'nodes 1 and 3 see voter 2 move',
        () => [first!, third!].every((addresses) => addresses.addressOf(2) === '127.0.0.1:40022'),
        waitOptions,
      );
    } finally {
      first!.close();
      third!.close();
    }
  });

  it('sees a change made right after it opened, however busy the thread pool', async () => {
    const file = join(dir, 'quorum-voters');
    writeVoters(file, '1@127.0.0.1:40001,2@127.0.0.1:40002,3@127.0.0.1:40003');
    // Work that holds every libuv thread-pool thread for a while: asynchronous fs calls made from
    // now on (a stat to compare later ones with, say) wait behind it.
    const poolBusy = Array.from(
      { length: 32 },
      () => new Promise((done) => pbkdf2('x', 'y', 200_000, 32, 'sha256', done)),
    );
    const addresses = await VoterAddresses.open({
      nodeId: 1,
      voters: unknownPorts,
      boundPort: 40001,
      file,
      logger,
    });
    try {
      expect(addresses.addressOf(2)).toBe('127.0.0.1:40002');
      // Voter 2 restarts on another port at once.
      writeVoters(file, '1@127.0.0.1:40001,2@127.0.0.1:40022,3@127.0.0.1:40003');
      await Promise.all(poolBusy);
      await waitFor(
        'the new address of voter 2',
        () => addresses.addressOf(2) === '127.0.0.1:40022',
        waitOptions,
      );
    } finally {
      addresses.close();
    }
  });

  it('gives up with the key and the reason when the file never names every voter', async () => {
    const file = join(dir, 'quorum-voters');
    writeVoters(file, '1@127.0.0.1:0,2@127.0.0.1:0,3@127.0.0.1:40003');
    await expect(
      VoterAddresses.open({
        nodeId: 1,
        voters: unknownPorts,
        boundPort: 40001,
        file,
        logger,
        waitMsMax: 200,
      }),
    ).rejects.toThrow(/gregor.controller.quorum.voters.file .*: voter 2 has no port yet/);
  });
});

describe('bound-ports', () => {
  it('round-trips the bound listeners in the syntax of the listeners key', () => {
    expect(readBoundListeners(dir)).toBeUndefined();
    const listeners = [
      { name: 'PLAINTEXT', host: '127.0.0.1', port: 41234 },
      { name: 'CONTROLLER', host: '::1', port: 41235 },
    ];
    writeBoundListeners(dir, listeners, undefined);
    expect(readBoundListeners(dir)).toEqual(listeners);
    expect(readBoundMetricsPort(dir)).toBeNull();
  });

  it('carries the metrics port on a line of its own when metrics are on', () => {
    expect(readBoundMetricsPort(dir)).toBeUndefined();
    const listeners = [{ name: 'PLAINTEXT', host: '127.0.0.1', port: 41234 }];
    writeBoundListeners(dir, listeners, 41236);
    expect(readFileSync(join(dir, boundListenersFileName), 'utf8')).toBe(
      'listeners=PLAINTEXT://127.0.0.1:41234\nmetrics.port=41236\n',
    );
    expect(readBoundListeners(dir)).toEqual(listeners);
    expect(readBoundMetricsPort(dir)).toBe(41236);
  });
});

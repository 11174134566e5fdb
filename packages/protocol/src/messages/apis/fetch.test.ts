// Fetch v13-v18 against bytes assembled by hand from Kafka's FetchRequest.json and
// FetchResponse.json: topics by id (v13), the replica id moved into the ReplicaState tagged field
// (v15), node endpoints (v16, tagged), the follower's directory id (v17, tagged) and high watermark
// (v18, tagged).

import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { Reader } from '../../reader.js';
import type { ApiKey } from '../api-keys.js';
import { decodeMessage, encodeMessage } from '../codec.js';
import type { RequestInput } from '../registry.js';
import { fetchApi } from './fetch.js';

const hex = (text: string) => Buffer.from(text.replace(/\s+/g, ''), 'hex');
const topicId = '0102030405060708090a0b0c0d0e0f10';
const directoryId = 'a0a1a2a3a4a5a6a7a8a9aaabacadaeaf';

const partition = {
  partition: 0,
  currentLeaderEpoch: -1,
  fetchOffset: 5n,
  lastFetchedEpoch: -1,
  logStartOffset: -1n,
  partitionMaxBytes: 1 << 20,
};
// partition current_leader_epoch fetch_offset last_fetched_epoch log_start_offset partition_max_bytes
const partitionBytes = '00000000 ffffffff 0000000000000005 ffffffff ffffffffffffffff 00100000';
// max_wait_ms min_bytes max_bytes isolation_level session_id session_epoch
const limits = '000001f4 00000001 7fffffff 00 00000000 ffffffff';
const common = {
  maxWaitMs: 500,
  minBytes: 1,
  maxBytes: 0x7fffffff,
  isolationLevel: 0,
  sessionId: 0,
  sessionEpoch: -1,
  rackId: '',
};

function roundTrip(version: number, message: RequestInput<typeof ApiKey.Fetch>, bytes: Buffer) {
  expect(encodeMessage(fetchApi.request, version, message).toBuffer().toString('hex')).toBe(
    bytes.toString('hex'),
  );
  const decoded = decodeMessage(fetchApi.request, version, new Reader(bytes));
  expect(encodeMessage(fetchApi.request, version, decoded).toBuffer()).toEqual(bytes);
  return decoded;
}

describe('Fetch request v13+', () => {
  it('v13 names topics and forgotten topics by id', () => {
    const decoded = roundTrip(
      13,
      {
        ...common,
        replicaId: -1,
        topics: [{ topicId, partitions: [partition] }],
        forgottenTopicsData: [{ topicId, partitions: [3] }],
      },
      hex(`ffffffff ${limits}
           02 ${topicId} 02 ${partitionBytes} 00 00
           02 ${topicId} 02 00000003 00
           01 00`),
    );
    expect(decoded.topics[0]).toMatchObject({ topic: '', topicId });
    expect(decoded.forgottenTopicsData).toEqual([{ topic: '', topicId, partitions: [3] }]);
  });

  it('v15 drops replica_id for the ReplicaState tagged field (tag 1)', () => {
    const decoded = roundTrip(
      15,
      {
        ...common,
        replicaState: { replicaId: 2, replicaEpoch: 7n },
        topics: [{ topicId, partitions: [partition] }],
        forgottenTopicsData: [],
      },
      // tags: 1 field, tag 1, 13 bytes: replica_id replica_epoch (struct tags)
      hex(`${limits} 02 ${topicId} 02 ${partitionBytes} 00 00 01 01
           01 01 0d 00000002 0000000000000007 00`),
    );
    expect(decoded.replicaId).toBe(-1);
    expect(decoded.replicaState).toEqual({ replicaId: 2, replicaEpoch: 7n });
    // A consumer's request leaves the tag out.
    const consumer = roundTrip(
      15,
      { ...common, topics: [], forgottenTopicsData: [] },
      hex(`${limits} 01 01 01 00`),
    );
    expect(consumer.replicaState).toEqual({ replicaId: -1, replicaEpoch: -1n });
  });

  it('v17 carries the replica directory id (partition tag 0) and v18 the high watermark (tag 1)', () => {
    const message = {
      ...common,
      topics: [
        {
          topicId,
          partitions: [{ ...partition, replicaDirectoryId: directoryId, highWatermark: 9n }],
        },
      ],
      forgottenTopicsData: [],
    };
    const v18 = roundTrip(
      18,
      message,
      hex(`${limits} 02 ${topicId} 02 ${partitionBytes}
           02 00 10 ${directoryId} 01 08 0000000000000009
           00 01 01 00`),
    );
    expect(v18.topics[0]!.partitions[0]).toMatchObject({
      replicaDirectoryId: directoryId,
      highWatermark: 9n,
    });
    // v17 has no high watermark: the ignorable field is dropped.
    const v17 = roundTrip(
      17,
      message,
      hex(`${limits} 02 ${topicId} 02 ${partitionBytes} 01 00 10 ${directoryId} 00 01 01 00`),
    );
    expect(v17.topics[0]!.partitions[0]!.highWatermark).toBe(0x7fffffffffffffffn);
  });
});

describe('Fetch response v13+', () => {
  const partitionAnswer = {
    partitionIndex: 0,
    errorCode: 6,
    highWatermark: 0n,
    lastStableOffset: -1n,
    logStartOffset: -1n,
    currentLeader: { leaderId: 2, leaderEpoch: 3 },
    abortedTransactions: null,
    preferredReadReplica: -1,
    records: null,
  };
  // partition_index error_code high_watermark last_stable_offset log_start_offset aborted(null)
  // preferred_read_replica records(null), tags: current_leader (tag 1, 9 bytes)
  const partitionAnswerBytes = `00000000 0006 0000000000000000 ffffffffffffffff ffffffffffffffff 00
    ffffffff 00  01 01 09 00000002 00000003 00`;

  it('v16 answers by topic id with the current leader and its endpoint (top-level tag 0)', () => {
    const message = {
      throttleTimeMs: 0,
      errorCode: 0,
      sessionId: 0,
      responses: [{ topicId, partitions: [partitionAnswer] }],
      nodeEndpoints: [{ nodeId: 2, host: 'h', port: 9092, rack: null }],
    };
    const bytes = hex(`00000000 0000 00000000 02 ${topicId} 02 ${partitionAnswerBytes} 00
      01 00 0d  02 00000002 0268 00002384 00 00`);
    expect(encodeMessage(fetchApi.response, 16, message).toBuffer().toString('hex')).toBe(
      bytes.toString('hex'),
    );
    const decoded = decodeMessage(fetchApi.response, 16, new Reader(bytes));
    expect(decoded.responses[0]).toMatchObject({ topic: '', topicId });
    expect(decoded.nodeEndpoints).toEqual(message.nodeEndpoints);
    // v15 has no node endpoints: the same response with an empty tag section.
    const tagsBytes = 16;
    expect(encodeMessage(fetchApi.response, 15, { ...message, nodeEndpoints: [] }).toBuffer()).toEqual(
      Buffer.concat([bytes.subarray(0, bytes.length - tagsBytes), hex('00')]),
    );
  });
});

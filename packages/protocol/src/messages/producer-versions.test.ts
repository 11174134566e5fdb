// The producer APIs' newest versions against bytes assembled by hand from Kafka's JSON specs:
// each body encodes to exactly these bytes and decodes back. Random round trips of every version
// are apis.test.ts's; this pins the field order, the types and the tagged fields.

import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../errors.js';
import { Reader } from '../reader.js';
import { addOffsetsToTxnApi } from './apis/add-offsets-to-txn.js';
import { endTxnApi } from './apis/end-txn.js';
import { initProducerIdApi } from './apis/init-producer-id.js';
import { listOffsetsApi } from './apis/list-offsets.js';
import { produceApi } from './apis/produce.js';
import { txnOffsetCommitApi } from './apis/txn-offset-commit.js';
import { decodeMessage, encodeMessage, type MessageSchema } from './codec.js';
import type { Fields } from './schema.js';

const hex = (text: string) => Buffer.from(text.replace(/\s+/g, ''), 'hex');

function expectLayout(schema: MessageSchema<Fields>, version: number, value: object, bytes: string): void {
  expect(encodeMessage(schema, version, value as never).toBuffer()).toEqual(hex(bytes));
  const reader = new Reader(hex(bytes));
  expect(decodeMessage(schema, version, reader)).toMatchObject(value);
  expect(reader.remaining).toBe(0);
}

describe('Produce v9-v11', () => {
  const moved = {
    partitionIndex: 0,
    errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER,
    baseOffset: -1n,
    logAppendTimeMs: -1n,
    logStartOffset: -1n,
    recordErrors: [],
    errorMessage: null,
  };
  // name "t", one partition: index, error 6, three -1 offsets, no record errors, null message.
  const partition = '0274  02 00000000 0006 ffffffffffffffff ffffffffffffffff ffffffffffffffff 01 00';

  it('v9 is the first flexible version, without the KIP-951 tags', () => {
    expectLayout(
      produceApi.response,
      9,
      { responses: [{ name: 't', partitions: [moved] }], throttleTimeMs: 0 },
      `02 ${partition} 00  00  00000000 00`,
    );
  });

  it('v10 and v11 carry current_leader (partition tag 0) and node_endpoints (top-level tag 0)', () => {
    const value = {
      responses: [{ name: 't', partitions: [{ ...moved, currentLeader: { leaderId: 2, leaderEpoch: 3 } }] }],
      throttleTimeMs: 0,
      nodeEndpoints: [{ nodeId: 2, host: 'h', port: 9092, rack: null }],
    };
    // Tagged struct: 1 field, tag 0, 9 bytes (leader, epoch, its own empty tag buffer).
    const currentLeader = '01 00 09 00000002 00000003 00';
    // Tagged array: 1 field, tag 0, 13 bytes (one node: id, host "h", port, null rack, tags).
    const nodeEndpoints = '01 00 0d 02 00000002 0268 00002384 00 00';
    for (const version of [10, 11]) {
      expectLayout(
        produceApi.response,
        version,
        value,
        `02 ${partition} ${currentLeader}  00  00000000 ${nodeEndpoints}`,
      );
    }
  });

  it('v11 requests keep the v9 layout: nullable transactional id, acks, timeout, compact topics', () => {
    expectLayout(
      produceApi.request,
      11,
      {
        transactionalId: null,
        acks: -1,
        timeoutMs: 1000,
        topics: [{ name: 't', partitions: [{ partitionIndex: 0, records: Buffer.from([7]) }] }],
      },
      '00 ffff 000003e8  02 0274  02 00000000 0207 00  00  00',
    );
  });
});

describe('Produce v13 (KIP-516): topics by id', () => {
  const topicId = '0123456789abcdef0123456789abcdef';

  it('requests carry the 16-byte topic id where v12 has the compact name', () => {
    const value = {
      transactionalId: null,
      acks: -1,
      timeoutMs: 1000,
      topics: [{ topicId, partitions: [{ partitionIndex: 0, records: Buffer.from([7]) }] }],
    };
    expectLayout(
      produceApi.request,
      13,
      value,
      `00 ffff 000003e8  02 ${topicId}  02 00000000 0207 00  00  00`,
    );
    // The name is not written at v13, the id not at v12.
    expect(
      encodeMessage(produceApi.request, 13, {
        ...value,
        topics: [{ ...value.topics[0]!, name: 't' }],
      }).toBuffer(),
    ).toEqual(encodeMessage(produceApi.request, 13, value).toBuffer());
    expectLayout(
      produceApi.request,
      12,
      { ...value, topics: [{ name: 't', partitions: value.topics[0]!.partitions }] },
      '00 ffff 000003e8  02 0274  02 00000000 0207 00  00  00',
    );
  });

  it('responses name each topic by its id, with the v10 tags', () => {
    const partition = {
      partitionIndex: 1,
      errorCode: ErrorCode.UNKNOWN_TOPIC_ID,
      baseOffset: -1n,
      logAppendTimeMs: -1n,
      logStartOffset: -1n,
      recordErrors: [],
      errorMessage: null,
    };
    expectLayout(
      produceApi.response,
      13,
      { responses: [{ topicId, partitions: [partition] }], throttleTimeMs: 0, nodeEndpoints: [] },
      `02 ${topicId}  02 00000001 0064 ffffffffffffffff ffffffffffffffff ffffffffffffffff 01 00 00  00  00000000 00`,
    );
  });
});

describe('ListOffsets v6-v10', () => {
  const request = {
    replicaId: -1,
    isolationLevel: 0,
    topics: [{ name: 't', partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -3n }] }],
  };
  // replica -1, read_uncommitted, topic "t", partition 0, epoch -1, timestamp -3 (max timestamp).
  const topics = '02 0274  02 00000000 ffffffff fffffffffffffffd 00  00';

  it('v10 requests end with timeout_ms; v6-v9 have the same layout without it', () => {
    expectLayout(
      listOffsetsApi.request,
      10,
      { ...request, timeoutMs: 1000 },
      `ffffffff 00 ${topics} 000003e8 00`,
    );
    for (const version of [6, 7, 8, 9]) {
      expectLayout(listOffsetsApi.request, version, request, `ffffffff 00 ${topics} 00`);
    }
  });

  it('v10 responses keep the flexible v6 layout', () => {
    expectLayout(
      listOffsetsApi.response,
      10,
      {
        throttleTimeMs: 0,
        topics: [
          {
            name: 't',
            partitions: [{ partitionIndex: 0, errorCode: 0, timestamp: 9000n, offset: 1n, leaderEpoch: 0 }],
          },
        ],
      },
      '00000000  02 0274  02 00000000 0000 0000000000002328 0000000000000001 00000000 00  00  00',
    );
  });
});

describe('transaction APIs: InitProducerId v4-v5, AddOffsetsToTxn v4, EndTxn v4, TxnOffsetCommit v4', () => {
  it('keep their v3 layouts', () => {
    for (const version of [3, 4, 5]) {
      expectLayout(
        initProducerIdApi.request,
        version,
        { transactionalId: 'x', transactionTimeoutMs: 60_000, producerId: -1n, producerEpoch: -1 },
        '0278 0000ea60 ffffffffffffffff ffff 00',
      );
      expectLayout(
        initProducerIdApi.response,
        version,
        { throttleTimeMs: 0, errorCode: ErrorCode.PRODUCER_FENCED, producerId: 7n, producerEpoch: 1 },
        '00000000 005a 0000000000000007 0001 00',
      );
    }
    for (const version of [3, 4]) {
      expectLayout(
        addOffsetsToTxnApi.request,
        version,
        { transactionalId: 'x', producerId: 7n, producerEpoch: 1, groupId: 'g' },
        '0278 0000000000000007 0001 0267 00',
      );
      expectLayout(
        endTxnApi.request,
        version,
        { transactionalId: 'x', producerId: 7n, producerEpoch: 1, committed: true },
        '0278 0000000000000007 0001 01 00',
      );
      expectLayout(endTxnApi.response, version, { throttleTimeMs: 0, errorCode: 0 }, '00000000 0000 00');
      expectLayout(
        txnOffsetCommitApi.request,
        version,
        {
          transactionalId: 'x',
          groupId: 'g',
          producerId: 7n,
          producerEpoch: 1,
          generationId: 3,
          memberId: 'm',
          groupInstanceId: null,
          topics: [
            {
              name: 't',
              partitions: [
                {
                  partitionIndex: 0,
                  committedOffset: 42n,
                  committedLeaderEpoch: -1,
                  committedMetadata: null,
                },
              ],
            },
          ],
        },
        '0278 0267 0000000000000007 0001 00000003 026d 00  02 0274  02 00000000 000000000000002a ffffffff 00 00  00  00',
      );
    }
  });
});

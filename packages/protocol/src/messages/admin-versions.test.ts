// The admin APIs' newest versions against bytes assembled by hand from Kafka's JSON specs
// (CreatePartitions v2-v3, DescribeCluster v2, DescribeQuorum v2): each body encodes to exactly these bytes and decodes
// back. Random round trips of every version are apis.test.ts's.

import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { Reader } from '../reader.js';
import { createPartitionsApi } from './apis/create-partitions.js';
import { describeClusterApi } from './apis/describe-cluster.js';
import { describeQuorumApi } from './apis/describe-quorum.js';
import { decodeMessage, encodeMessage, type MessageSchema } from './codec.js';
import { type Fields, zeroUuid } from './schema.js';

const hex = (text: string) => Buffer.from(text.replace(/\s+/g, ''), 'hex');

function expectLayout(schema: MessageSchema<Fields>, version: number, value: object, bytes: string): void {
  expect(encodeMessage(schema, version, value as never).toBuffer()).toEqual(hex(bytes));
  const reader = new Reader(hex(bytes));
  expect(decodeMessage(schema, version, reader)).toMatchObject(value);
  expect(reader.remaining).toBe(0);
}

describe('CreatePartitions v2-v3', () => {
  it('is flexible from v2, and v3 has the same layout', () => {
    for (const version of [2, 3]) {
      expectLayout(
        createPartitionsApi.request,
        version,
        { topics: [{ name: 't', count: 4, assignments: null }], timeoutMs: 1000, validateOnly: false },
        '02 0274 00000004 00 00  000003e8 00 00',
      );
      expectLayout(
        createPartitionsApi.response,
        version,
        { throttleTimeMs: 0, results: [{ name: 't', errorCode: 0, errorMessage: null }] },
        '00000000  02 0274 0000 00 00  00',
      );
    }
  });
});

describe('DescribeCluster v2', () => {
  it('asks for fenced brokers and marks them', () => {
    expectLayout(
      describeClusterApi.request,
      2,
      { includeClusterAuthorizedOperations: false, endpointType: 1, includeFencedBrokers: true },
      '00 01 01 00',
    );
    expectLayout(
      describeClusterApi.response,
      2,
      {
        throttleTimeMs: 0,
        errorCode: 0,
        errorMessage: null,
        endpointType: 1,
        clusterId: 'c',
        controllerId: 1,
        brokers: [{ brokerId: 3, host: 'h', port: 9092, rack: null, isFenced: true }],
        clusterAuthorizedOperations: -2147483648,
      },
      '00000000 0000 00 01 0263 00000001  02 00000003 0268 00002384 00 01 00  80000000 00',
    );
  });
});

describe('DescribeQuorum v2', () => {
  it("lists each node's listeners as name, host and port only (no security protocol)", () => {
    expectLayout(
      describeQuorumApi.response,
      2,
      {
        errorCode: 0,
        errorMessage: null,
        topics: [
          {
            topicName: 'm',
            partitions: [
              {
                partitionIndex: 0,
                errorCode: 0,
                errorMessage: null,
                leaderId: 1,
                leaderEpoch: 4,
                highWatermark: 120n,
                currentVoters: [
                  {
                    replicaId: 1,
                    replicaDirectoryId: zeroUuid,
                    logEndOffset: 121n,
                    lastFetchTimestamp: -1n,
                    lastCaughtUpTimestamp: -1n,
                  },
                ],
                observers: [],
              },
            ],
          },
        ],
        nodes: [{ nodeId: 1, listeners: [{ name: 'C', host: 'h', port: 9093 }] }],
      },
      `0000 00  02 026d  02 00000000 0000 00 00000001 00000004 0000000000000078
         02 00000001 ${'00'.repeat(16)} 0000000000000079 ffffffffffffffff ffffffffffffffff 00
         01 00 00
       02 00000001 02 0243 0268 2385 00 00  00`,
    );
  });
});

// The group APIs' newest versions against bytes assembled by hand from Kafka's JSON specs
// (FindCoordinator v6, JoinGroup v7-v9, SyncGroup v5, LeaveGroup v5, DescribeGroups v6, ListGroups
// v5, OffsetCommit v9-v10, OffsetFetch v9-v10): each body encodes to exactly these bytes and decodes back.
// Random round trips of every version are apis.test.ts's; this pins the field order and types.

import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../errors.js';
import { Reader } from '../reader.js';
import { describeGroupsApi } from './apis/describe-groups.js';
import { findCoordinatorApi } from './apis/find-coordinator.js';
import { joinGroupApi } from './apis/join-group.js';
import { leaveGroupApi } from './apis/leave-group.js';
import { listGroupsApi } from './apis/list-groups.js';
import { offsetCommitApi } from './apis/offset-commit.js';
import { offsetFetchApi } from './apis/offset-fetch.js';
import { syncGroupApi } from './apis/sync-group.js';
import { decodeMessage, EncodeError, encodeMessage, type MessageSchema } from './codec.js';
import type { Fields } from './schema.js';

const hex = (text: string) => Buffer.from(text.replace(/\s+/g, ''), 'hex');
/** Compact strings: uvarint length + 1, then UTF-8. */
const consumer = '09 636f6e73756d6572';
const range = '06 72616e6765';

function expectLayout(schema: MessageSchema<Fields>, version: number, value: object, bytes: string): void {
  expect(encodeMessage(schema, version, value as never).toBuffer()).toEqual(hex(bytes));
  const reader = new Reader(hex(bytes));
  expect(decodeMessage(schema, version, reader)).toMatchObject(value);
  expect(reader.remaining).toBe(0);
}

describe('FindCoordinator v6', () => {
  it('carries a share coordinator key type in the batched layout', () => {
    expectLayout(
      findCoordinatorApi.request,
      6,
      { keyType: 2, coordinatorKeys: ['g:x:0'] },
      '02  02 06 673a783a30  00',
    );
    expectLayout(
      findCoordinatorApi.response,
      6,
      {
        throttleTimeMs: 0,
        coordinators: [{ key: 'g', nodeId: 1, host: 'h', port: 9092, errorCode: 0, errorMessage: null }],
      },
      '00000000  02 0267 00000001 0268 00002384 0000 00 00  00',
    );
  });
});

describe('JoinGroup v7-v9', () => {
  it('v8 requests carry a nullable reason after the protocols', () => {
    expectLayout(
      joinGroupApi.request,
      8,
      {
        groupId: 'g',
        sessionTimeoutMs: 10_000,
        rebalanceTimeoutMs: 10_000,
        memberId: 'm',
        groupInstanceId: null,
        protocolType: 'consumer',
        protocols: [{ name: 'range', metadata: Buffer.from([1]) }],
        reason: 'r',
      },
      `0267 00002710 00002710 026d 00 ${consumer}  02 ${range} 0201 00  0272  00`,
    );
  });

  it('v9 responses carry the protocol type and skip_assignment', () => {
    expectLayout(
      joinGroupApi.response,
      9,
      {
        throttleTimeMs: 0,
        errorCode: 0,
        generationId: 3,
        protocolType: 'consumer',
        protocolName: 'range',
        leader: 'm',
        skipAssignment: true,
        memberId: 'm',
        members: [{ memberId: 'm', groupInstanceId: 'i', metadata: Buffer.from([1]) }],
      },
      `00000000 0000 00000003 ${consumer} ${range} 026d 01 026d  02 026d 0269 0201 00  00`,
    );
  });

  it('v7 responses may have a null protocol type and name; v6 cannot carry a null name', () => {
    const noProtocol = {
      throttleTimeMs: 0,
      errorCode: ErrorCode.MEMBER_ID_REQUIRED,
      generationId: -1,
      protocolType: null,
      protocolName: null,
      leader: '',
      memberId: 'm',
      members: [],
    };
    expectLayout(joinGroupApi.response, 7, noProtocol, '00000000 004f ffffffff 00 00 01 026d 01 00');
    expect(() => encodeMessage(joinGroupApi.response, 6, noProtocol)).toThrow(EncodeError);
  });
});

describe('SyncGroup v5', () => {
  it('carries the protocol type and name in both directions', () => {
    expectLayout(
      syncGroupApi.request,
      5,
      {
        groupId: 'g',
        generationId: 3,
        memberId: 'm',
        groupInstanceId: null,
        protocolType: 'consumer',
        protocolName: 'range',
        assignments: [{ memberId: 'm', assignment: Buffer.from([1]) }],
      },
      `0267 00000003 026d 00 ${consumer} ${range}  02 026d 0201 00  00`,
    );
    expectLayout(
      syncGroupApi.response,
      5,
      {
        throttleTimeMs: 0,
        errorCode: 0,
        protocolType: 'consumer',
        protocolName: 'range',
        assignment: Buffer.from([1]),
      },
      `00000000 0000 ${consumer} ${range} 0201 00`,
    );
  });
});

describe('LeaveGroup v5', () => {
  it('carries a reason per member', () => {
    expectLayout(
      leaveGroupApi.request,
      5,
      { groupId: 'g', members: [{ memberId: 'm', groupInstanceId: null, reason: 'r' }] },
      '0267  02 026d 00 0272 00  00',
    );
  });
});

describe('DescribeGroups v6', () => {
  it('carries an error message per group after its error code', () => {
    const message = 'Group g not found.';
    expectLayout(
      describeGroupsApi.response,
      6,
      {
        throttleTimeMs: 0,
        groups: [
          {
            errorCode: ErrorCode.GROUP_ID_NOT_FOUND,
            errorMessage: message,
            groupId: 'g',
            groupState: 'Dead',
            protocolType: '',
            protocolData: '',
            members: [],
            authorizedOperations: -2147483648,
          },
        ],
      },
      `00000000  02 0045 13 ${Buffer.from(message).toString('hex')} 0267 05 44656164 01 01 01 80000000 00  00`,
    );
  });
});

describe('ListGroups v5', () => {
  it('filters by type and answers each group type', () => {
    expectLayout(
      listGroupsApi.request,
      5,
      { statesFilter: [], typesFilter: ['classic'] },
      '01 02 08 636c6173736963 00',
    );
    expectLayout(
      listGroupsApi.response,
      5,
      {
        throttleTimeMs: 0,
        errorCode: 0,
        groups: [{ groupId: 'g', protocolType: 'consumer', groupState: 'Stable', groupType: 'classic' }],
      },
      `00000000 0000  02 0267 ${consumer} 07 537461626c65 08 636c6173736963 00  00`,
    );
  });
});

describe('OffsetCommit v9 and OffsetFetch v9', () => {
  it('OffsetCommit v9 keeps the v8 layout', () => {
    const commit = {
      groupId: 'g',
      generationId: 3,
      memberId: 'm',
      groupInstanceId: null,
      topics: [
        {
          name: 't',
          partitions: [
            { partitionIndex: 0, committedOffset: 42n, committedLeaderEpoch: -1, committedMetadata: null },
          ],
        },
      ],
    };
    const bytes = '0267 00000003 026d 00  02 0274  02 00000000 000000000000002a ffffffff 00 00  00  00';
    expectLayout(offsetCommitApi.request, 8, commit, bytes);
    expectLayout(offsetCommitApi.request, 9, commit, bytes);
  });

  it('OffsetFetch v9 names the member and its epoch per group', () => {
    expectLayout(
      offsetFetchApi.request,
      9,
      { groups: [{ groupId: 'g', memberId: 'm', memberEpoch: 5, topics: null }], requireStable: true },
      '02 0267 026d 00000005 00 00  01  00',
    );
  });

  const topicId = '0123456789abcdef0123456789abcdef';

  it('OffsetCommit v10 names each topic by its id, not its name, in both directions', () => {
    expectLayout(
      offsetCommitApi.request,
      10,
      {
        groupId: 'g',
        generationId: 3,
        memberId: 'm',
        groupInstanceId: null,
        topics: [
          {
            topicId,
            partitions: [
              { partitionIndex: 0, committedOffset: 42n, committedLeaderEpoch: -1, committedMetadata: null },
            ],
          },
        ],
      },
      `0267 00000003 026d 00  02 ${topicId}  02 00000000 000000000000002a ffffffff 00 00  00  00`,
    );
    expectLayout(
      offsetCommitApi.response,
      10,
      { throttleTimeMs: 0, topics: [{ topicId, partitions: [{ partitionIndex: 0, errorCode: 100 }] }] },
      `00000000  02 ${topicId}  02 00000000 0064 00  00  00`,
    );
  });

  it('OffsetCommit v9 and v10 leave out the field of the other version, named or not', () => {
    const body = {
      throttleTimeMs: 0,
      topics: [{ name: 't', topicId, partitions: [{ partitionIndex: 1, errorCode: 0 }] }],
    };
    const v9 = encodeMessage(offsetCommitApi.response, 9, body).toBuffer();
    const v10 = encodeMessage(offsetCommitApi.response, 10, body).toBuffer();
    expect(v9).toEqual(hex('00000000  02 0274  02 00000001 0000 00  00  00'));
    expect(v10).toEqual(hex(`00000000  02 ${topicId}  02 00000001 0000 00  00  00`));
  });

  it('OffsetFetch v10 asks for and answers each topic of a group by its id', () => {
    expectLayout(
      offsetFetchApi.request,
      10,
      {
        groups: [
          { groupId: 'g', memberId: 'm', memberEpoch: 5, topics: [{ topicId, partitionIndexes: [0] }] },
        ],
        requireStable: true,
      },
      `02 0267 026d 00000005  02 ${topicId} 02 00000000 00  00  01  00`,
    );
    expectLayout(
      offsetFetchApi.response,
      10,
      {
        throttleTimeMs: 0,
        groups: [
          {
            groupId: 'g',
            topics: [
              {
                topicId,
                partitions: [
                  {
                    partitionIndex: 0,
                    committedOffset: 42n,
                    committedLeaderEpoch: -1,
                    metadata: '',
                    errorCode: 0,
                  },
                ],
              },
            ],
            errorCode: 0,
          },
        ],
      },
      `00000000  02 0267  02 ${topicId}  02 00000000 000000000000002a ffffffff 01 0000 00  00  0000 00  00`,
    );
  });
});

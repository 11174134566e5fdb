import { describe, expect, it } from 'vitest';
import type { RaftMessage } from '../core/messages.js';
import { decodeRaftEnvelope, encodeRaftEnvelope, type WireEnvelope } from './raft-codec.js';
import { loadRaftQuorumDefinition } from './raft-service.js';

const envelope = { clusterId: 'codec-cluster', from: 1, to: 0 };
const bytes = (...values: number[]) => new Uint8Array(values);

/** One of every message, with optional fields both set and unset somewhere. */
const MESSAGES: RaftMessage[] = [
  { ...envelope, type: 'vote-request', candidateEpoch: 7, lastEpoch: 6, lastOffset: 2 ** 40, preVote: true },
  { ...envelope, type: 'vote-response', epoch: 7, granted: false, preVote: false, leaderId: 0 },
  { ...envelope, type: 'vote-response', epoch: 7, granted: true, preVote: true, leaderId: undefined },
  { ...envelope, type: 'begin-quorum-epoch', epoch: 3, leaderId: 1 },
  { ...envelope, type: 'fetch-request', epoch: 3, fetchOffset: 12, lastFetchedEpoch: 2 },
  {
    ...envelope,
    type: 'fetch-response',
    epoch: 3,
    leaderId: 1,
    error: undefined,
    fetchOffset: 12,
    lastFetchedEpoch: 2,
    highWatermark: 12,
    entries: [
      { offset: 12, epoch: 3, type: 'leader-change', payload: bytes(0, 0, 0, 1) },
      { offset: 13, epoch: 3, type: 'data', payload: bytes() },
    ],
    divergingEpoch: undefined,
    snapshotId: undefined,
  },
  {
    ...envelope,
    type: 'fetch-response',
    epoch: 4,
    leaderId: undefined,
    error: 'fenced-epoch',
    fetchOffset: 9,
    lastFetchedEpoch: 1,
    highWatermark: 0,
    entries: [],
    divergingEpoch: { epoch: 1, endOffset: 5 },
    snapshotId: { endOffset: 100, epoch: 2 },
  },
  {
    ...envelope,
    type: 'fetch-snapshot-request',
    epoch: 3,
    snapshotId: { endOffset: 100, epoch: 2 },
    position: 5,
  },
  {
    ...envelope,
    type: 'fetch-snapshot-response',
    epoch: 3,
    leaderId: 1,
    error: 'snapshot-not-found',
    snapshotId: { endOffset: 100, epoch: 2 },
    position: 5,
    totalBytes: 0,
    bytes: bytes(),
  },
  {
    ...envelope,
    type: 'fetch-snapshot-response',
    epoch: 3,
    leaderId: 1,
    error: undefined,
    snapshotId: { endOffset: 100, epoch: 2 },
    position: 0,
    totalBytes: 3,
    bytes: bytes(1, 2, 3),
  },
];

describe('raft codec over proto/raft.proto', () => {
  const deliver = loadRaftQuorumDefinition().service.Deliver!;

  it.each(MESSAGES.map((message) => [message.type, message] as const))(
    'round-trips a %s through protobuf bytes',
    (_type, message) => {
      const wire = deliver.requestSerialize(encodeRaftEnvelope(message));
      const decoded = decodeRaftEnvelope(deliver.requestDeserialize(wire) as WireEnvelope);
      expect(decoded).toEqual({ ok: true, message });
    },
  );

  it('refuses envelopes without a body, with unknown enums or with negative offsets', () => {
    const noBody = deliver.requestDeserialize(deliver.requestSerialize(envelope)) as WireEnvelope;
    expect(decodeRaftEnvelope(noBody)).toMatchObject({ ok: false });
    const badType = deliver.requestDeserialize(
      deliver.requestSerialize({
        ...encodeRaftEnvelope(MESSAGES[5]!),
        fetchResponse: {
          ...encodeRaftEnvelope(MESSAGES[5]!).fetchResponse!,
          entries: [{ offset: 1, epoch: 1, type: 'ENTRY_TYPE_UNSPECIFIED', payload: bytes() }],
        },
      }),
    ) as WireEnvelope;
    expect(decodeRaftEnvelope(badType)).toEqual({ ok: false, reason: 'entry type ENTRY_TYPE_UNSPECIFIED' });
    const negative = deliver.requestDeserialize(
      deliver.requestSerialize({
        ...envelope,
        fetchRequest: { epoch: 1, fetchOffset: -1, lastFetchedEpoch: 0 },
      }),
    ) as WireEnvelope;
    expect(decodeRaftEnvelope(negative)).toMatchObject({
      ok: false,
      reason: expect.stringContaining('fetch_offset'),
    });
    expect(decodeRaftEnvelope({ ...noBody, clusterId: '' })).toEqual({
      ok: false,
      reason: 'cluster_id is empty',
    });
  });
});

// OffsetFetch (key 9), versions 0-10; flexible from 6. v10 names topics by id: offset-topic-ids.ts
// resolves them to names before this handler runs. Version 8 batches groups; version 9 names the
// member asking (KIP-848 member id and epoch), which Kafka checks against consumer-protocol groups
// only: Gregor's groups are all classic, so they are not checked, as Kafka does for classic groups.
//   Request  v0-7 => group_id [topics => name [partition_indexes]](nullable 2+: null = all)
//                    require_stable(7+)
//   Request  v8+  => [groups => group_id member_id(9+, nullable) member_epoch(9+)
//                      [topics => name [partition_indexes]](nullable)] require_stable
//   Response v0-7 => throttle_time_ms(3+) [topics => name [partitions => partition_index
//                      committed_offset committed_leader_epoch(5+) metadata(nullable) error_code]]
//                    error_code(2+)
//   Response v8+  => throttle_time_ms [groups => group_id [topics => name [partitions => ...]]
//                      error_code]
//
// A partition with nothing committed answers offset -1. v0-1 have no group-level error: the
// coordinator repeats it on every requested partition, which is what those versions read. Before
// answering, the coordinator confirms it still leads the group's offsets partition (a metadata
// barrier, GroupCoordinatorDriver.confirmLeadership); unconfirmed, the group is NOT_COORDINATOR (or
// COORDINATOR_LOAD_IN_PROGRESS when its load here was replaced while the controller answered).

import { type OffsetFetchResponse, offsetFetchRefusal } from '@gregor/group';
import { type ApiKey, ErrorCode, type RequestBody, type ResponseInput } from '@gregor/protocol';
import type { GroupCoordinatorDriver } from '../groups/group-coordinator-driver.js';
import type { ApiHandler } from './api-handler.js';

type Key = typeof ApiKey.OffsetFetch;
type Response = ResponseInput<Key>;

/** The first version that batches groups. */
const batchedGroupsVersion = 8;
/** Groups one v8 request may name; more is a broken client, not load. */
export const offsetFetchGroupsPerRequestMax = 10_000;

type FetchTopics = readonly { readonly name: string; readonly partitionIndexes: readonly number[] }[] | null;

export function createOffsetFetchHandler(groups: GroupCoordinatorDriver): ApiHandler<Key> {
  const fetchGroup = async (
    groupId: string,
    topics: FetchTopics,
    requireStable: boolean,
    member: { memberId: string | null; memberEpoch: number } = { memberId: null, memberEpoch: -1 },
  ): Promise<OffsetFetchResponse> => {
    const request = { groupId, topics, requireStable, ...member };
    // A coordinator deposed without knowing it yet must not answer from its memory.
    const confirmation = await groups.confirmLeadership(groupId);
    if (confirmation !== ErrorCode.NONE) return offsetFetchRefusal(request, confirmation);
    return groups.request('OffsetFetch', (coordinator, requestId, nowMs) =>
      coordinator.offsetFetch(requestId, request, nowMs),
    );
  };
  const topicsOf = (response: OffsetFetchResponse) =>
    response.topics.map((topic) => ({
      name: topic.name,
      partitions: topic.partitions.map((partition) => ({
        partitionIndex: partition.partitionIndex,
        committedOffset: partition.committedOffset,
        committedLeaderEpoch: partition.committedLeaderEpoch,
        metadata: partition.metadata,
        errorCode: partition.errorCode,
      })),
    }));

  return async (body: RequestBody<Key>, apiVersion: number): Promise<Response> => {
    if (apiVersion < batchedGroupsVersion) {
      const response = await fetchGroup(body.groupId, body.topics, body.requireStable);
      return { throttleTimeMs: 0, topics: topicsOf(response), errorCode: response.errorCode };
    }
    if (body.groups.length > offsetFetchGroupsPerRequestMax) {
      return {
        throttleTimeMs: 0,
        topics: [],
        groups: body.groups.map((group) => ({
          groupId: group.groupId,
          topics: [],
          errorCode: ErrorCode.INVALID_REQUEST,
        })),
      };
    }
    const responses = await Promise.all(
      body.groups.map((group) =>
        // v9: a KIP-848 member's id and epoch, checked against its group (STALE_MEMBER_EPOCH).
        fetchGroup(group.groupId, group.topics, body.requireStable, {
          memberId: group.memberId,
          memberEpoch: group.memberEpoch,
        }),
      ),
    );
    return {
      throttleTimeMs: 0,
      // The v0-7 layout is absent from v8: its zero value, which the encoder leaves out.
      topics: [],
      groups: responses.map((response, index) => ({
        groupId: body.groups[index]!.groupId,
        topics: topicsOf(response),
        errorCode: response.errorCode,
      })),
    };
  };
}

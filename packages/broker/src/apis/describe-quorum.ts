// DescribeQuorum (key 55), versions 0-2; flexible from 0.
//   Request  => [topics => topic_name [partitions => partition_index]]
//   Response => error_code error_message(2+)
//               [topics => topic_name [partitions => partition_index error_code error_message(2+)
//                 leader_id leader_epoch high_watermark [current_voters] [observers]]]
//               [nodes(2+) => node_id [listeners => name host port]]
//
// The metadata quorum (`__cluster_metadata`, partition 0) as its Raft leader sees it: every voter's
// log end offset and its last fetch and caught-up times. Kafka answers on the controller listener;
// here any broker answers by asking the quorum leader over the controller service (a node that is
// not the leader redirects the call there). Gregor's Raft has voters only, so observers stay empty,
// and no directory ids (KIP-853), so each is the zero uuid. Nodes (v2) are the voters' controller
// endpoints, as in Kafka (this node's view of controller.quorum.voters). Needs DESCRIBE on CLUSTER
// with an authorizer, as in Kafka.

import type { ControllerError } from '@gregor/metadata';
import { type ApiKey, ErrorCode, type RequestBody, type ResponseInput, zeroUuid } from '@gregor/protocol';
import type { QuorumView } from '../quorum/controller-rpc.js';
import type { ApiHandler } from './api-handler.js';
import { AclOperation, authorizedOnCluster } from './authorization.js';

type Key = typeof ApiKey.DescribeQuorum;
type Response = ResponseInput<Key>;

/** Kafka's name of the metadata log's topic; its only partition is 0. */
export const clusterMetadataTopicName = '__cluster_metadata';
/** How long a DescribeQuorum waits for the quorum leader's answer. */
export const describeQuorumTimeoutMs = 5_000;

/** One voter's controller endpoint (DescribeQuorum v2 `nodes`). */
export interface QuorumNode {
  readonly nodeId: number;
  readonly listeners: readonly {
    readonly name: string;
    readonly host: string;
    readonly port: number;
  }[];
}

/** The way to the quorum leader's view of the quorum, and to the voters' controller endpoints. */
export interface MetadataQuorum {
  describe(timeoutMs: number): Promise<QuorumView | ControllerError>;
  nodes(): readonly QuorumNode[];
}

function asksForTheMetadataPartition(body: RequestBody<Key>): boolean {
  const [topic] = body.topics;
  return (
    body.topics.length === 1 &&
    topic!.topicName === clusterMetadataTopicName &&
    topic!.partitions.length === 1 &&
    topic!.partitions[0]!.partitionIndex === 0
  );
}

export function createDescribeQuorumHandler(quorum: MetadataQuorum): ApiHandler<Key> {
  return async (body, apiVersion, context): Promise<Response> => {
    if (!authorizedOnCluster(context, AclOperation.DESCRIBE)) {
      return { errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, topics: [], nodes: [] };
    }
    if (!asksForTheMetadataPartition(body)) {
      return { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, topics: [], nodes: [] };
    }
    const view = await quorum.describe(describeQuorumTimeoutMs);
    const partition =
      'errorCode' in view
        ? {
            partitionIndex: 0,
            errorCode: view.errorCode,
            ...(apiVersion >= 2 ? { errorMessage: view.errorMessage } : {}),
            leaderId: -1,
            leaderEpoch: -1,
            highWatermark: -1n,
            currentVoters: [],
            observers: [],
          }
        : {
            partitionIndex: 0,
            errorCode: ErrorCode.NONE,
            leaderId: view.leaderId,
            leaderEpoch: view.leaderEpoch,
            highWatermark: BigInt(view.highWatermark),
            currentVoters: view.voters.map((voter) => ({
              replicaId: voter.replicaId,
              replicaDirectoryId: zeroUuid,
              logEndOffset: BigInt(voter.logEndOffset),
              lastFetchTimestamp: BigInt(voter.lastFetchTimestamp),
              lastCaughtUpTimestamp: BigInt(voter.lastCaughtUpTimestamp),
            })),
            observers: [],
          };
    return {
      errorCode: ErrorCode.NONE,
      topics: [{ topicName: clusterMetadataTopicName, partitions: [partition] }],
      nodes: quorum.nodes().map((node) => ({
        nodeId: node.nodeId,
        listeners: node.listeners.map(({ name, host, port }) => ({ name, host, port })),
      })),
    };
  };
}

// Metadata (key 3), versions 0-13; flexible from 9.
//   Request  => [topics => topic_id(10+) name(nullable 10+)](nullable 1+) allow_auto_topic_creation(4+)
//               include_cluster_authorized_operations(8-10) include_topic_authorized_operations(8+)
//   Response => throttle_time_ms(3+) [brokers => node_id host port rack(1+)] cluster_id(2+)
//               controller_id(1+) [topics => error_code name(nullable 12+) topic_id(10+) is_internal(1+)
//                 [partitions => error_code partition_index leader_id leader_epoch(7+)
//                   [replica_nodes] [isr_nodes] [offline_replicas](5+)]
//                 topic_authorized_operations(8+)]
//               cluster_authorized_operations(8-10) error_code(13+)
//
// Topic list: v0 empty = all topics; v1+ null = all, empty = none.
// Brokers: the unfenced ones, each with its endpoint on the listener the request arrived on (a client
// that came in through PLAINTEXT_HOST://localhost:9092 is sent every broker's PLAINTEXT_HOST
// endpoint); a broker that registered no endpoint of that name is left out, as in Kafka. Every id the
// response names as a leader or controller is among them: a leader outside that list is answered as
// -1 with LEADER_NOT_AVAILABLE (clients retry that one; kafkajs fails the whole call on other topic
// errors), or, from v6 on, LISTENER_NOT_FOUND when the leader is live but lacks the listener (Kafka's
// hint at a configuration error).
// Without the leader lease (no heartbeat answered by the controller within broker.session.timeout.ms,
// see node/broker-lease.ts) no partition names this broker leader (-1, LEADER_NOT_AVAILABLE: clients
// ask again) and another broker is named controller: its image may be stale, another leader may be
// elected already. It stays in the brokers list: a client (kafkajs) that saw a broker vanish from it
// drops that broker's connection under its in-flight requests and sends their batches again.
// Auto-creation (auto.create.topics.enable and the request's allow flag) asks the controller for the
// topic and answers once it is applied here; until the topic has a leader in the image the topic
// answers LEADER_NOT_AVAILABLE. Internal topics are not auto-created here: their owners (the group
// coordinator for __consumer_offsets) create them with their own settings.
// Authorized operations (v8+, when asked): each describable topic's and the cluster's (v8-10), as
// Kafka's AuthHelper.authorizedOperations computes them (authorization.ts).
// Topic ids (v10+): every topic answered carries its id. From v12 a request may name topics by id
// (null name): if any id is given, the ids alone select the topics, as in Kafka's KafkaApis; an id
// this broker does not know is UNKNOWN_TOPIC_ID and one the principal may not describe is
// TOPIC_AUTHORIZATION_FAILED, both with a null name (ids are not secret; names may be). Such a
// request auto-creates nothing. A v10 or v11 request with an id or a null name is INVALID_REQUEST
// for every topic it names, as Kafka refuses it.

import {
  clusterResourceName,
  isBrokerActive,
  isReplicaOffline,
  type MetadataImage,
  type PartitionState,
  topicNameProblem,
} from '@gregor/metadata';
import {
  type ApiKey,
  authorizedOperationsOmitted,
  ErrorCode,
  metadataTopicIdRequestVersionMin,
  type RequestBody,
  type ResponseInput,
  zeroUuid,
} from '@gregor/protocol';
import type { RequestContext } from './api-handler.js';
import {
  AclOperation,
  AclResourceType,
  authorizedOnCluster,
  authorizedOnTopic,
  authorizedOperations,
} from './authorization.js';
import { type BrokerContext, isFailure } from './broker-context.js';
import { topicIdFromWire, topicIdToWire } from './topic-ids.js';

type Key = typeof ApiKey.Metadata;
type Response = ResponseInput<Key>;
type TopicEntry = Response['topics'][number];
type BrokerEntry = Response['brokers'][number];

/** Topics Kafka flags `is_internal`. */
export const internalTopicNames: ReadonlySet<string> = new Set(['__consumer_offsets', '__transaction_state']);

/** From this version on, a live leader without the request's listener is LISTENER_NOT_FOUND (Kafka's KafkaApis). */
export const listenerNotFoundVersionMin = 6;

/** How long a Metadata request waits for the controller to create a topic it asked for, in ms. */
export const autoCreateTopicTimeoutMs = 5000;

export async function handleMetadata(
  body: RequestBody<Key>,
  apiVersion: number,
  context: RequestContext,
): Promise<Response> {
  const broker = context.broker;
  if (body.topics !== null && apiVersion < metadataTopicIdRequestVersionMin) {
    const invalid = body.topics.some((topic) => topic.name === null || topic.topicId !== zeroUuid);
    if (invalid) return invalidRequest(body.topics);
  }
  const byId =
    body.topics !== null &&
    apiVersion >= metadataTopicIdRequestVersionMin &&
    body.topics.some((topic) => topic.topicId !== zeroUuid);
  let image = broker.metadata.image();
  if (byId) return handleMetadataById(body, apiVersion, context, image);
  const requested =
    body.topics === null || (apiVersion === 0 && body.topics.length === 0)
      ? null
      : body.topics.map((topic) => topic.name ?? '');
  const autoCreate = broker.settings.autoCreateTopicsEnable && body.allowAutoTopicCreation;

  const created = new Set<string>();
  // As Kafka: a topic the principal may not DESCRIBE is hidden from the full list and
  // TOPIC_AUTHORIZATION_FAILED when named; creating one needs CREATE on the cluster or the topic.
  const refused = new Set<string>();
  const mayDescribe = (name: string) => authorizedOnTopic(context, AclOperation.DESCRIBE, name);
  for (const name of requested ?? []) if (!mayDescribe(name)) refused.add(name);
  const mayCreateAny = authorizedOnCluster(context, AclOperation.CREATE);
  if (requested !== null && autoCreate) {
    const missing = [
      ...new Set(
        requested.filter(
          (name) =>
            !refused.has(name) &&
            image.topic(name) === undefined &&
            topicNameProblem(name) === null &&
            !internalTopicNames.has(name),
        ),
      ),
    ].filter((name) => {
      if (mayCreateAny || authorizedOnTopic(context, AclOperation.CREATE, name)) return true;
      refused.add(name);
      return false;
    });
    if (missing.length > 0) {
      await autoCreateTopics(broker, missing);
      for (const name of missing) created.add(name);
      image = broker.metadata.image();
    }
  }

  const { brokers, listedBrokers } = brokersOf(image, context, apiVersion);
  const names = requested === null ? [...image.topics.keys()].sort().filter(mayDescribe) : requested;
  // Kafka (v8+): each topic the principal may describe carries its authorized operations when asked;
  // a refused one keeps the "omitted" value.
  const topicOperations = (name: string) =>
    body.includeTopicAuthorizedOperations
      ? { topicAuthorizedOperations: authorizedOperations(context, AclResourceType.TOPIC, name) }
      : {};
  const topics = names.map(
    (name): TopicEntry =>
      refused.has(name)
        ? {
            errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED,
            name,
            isInternal: internalTopicNames.has(name),
            partitions: [],
          }
        : {
            ...describeTopic(image, name, listedBrokers, created.has(name)),
            ...topicOperations(name),
          },
  );
  return metadataResponse(body, context, brokers, listedBrokers, topics);
}

/** v12+: the topics named by id (names in the request are not read, as in Kafka). */
function handleMetadataById(
  body: RequestBody<Key>,
  apiVersion: number,
  context: RequestContext,
  image: MetadataImage,
): Response {
  const { brokers, listedBrokers } = brokersOf(image, context, apiVersion);
  const topics = (body.topics ?? [])
    .filter((requested) => requested.topicId !== zeroUuid)
    .map((requested): TopicEntry => {
      const topicId = topicIdFromWire(requested.topicId);
      const topic = topicId === null ? undefined : image.topicById(topicId);
      const failed = (errorCode: number): TopicEntry => ({
        errorCode,
        name: null,
        topicId: requested.topicId,
        isInternal: false,
        partitions: [],
      });
      if (topic === undefined) return failed(ErrorCode.UNKNOWN_TOPIC_ID);
      if (!authorizedOnTopic(context, AclOperation.DESCRIBE, topic.name)) {
        return failed(ErrorCode.TOPIC_AUTHORIZATION_FAILED);
      }
      return {
        ...describeTopic(image, topic.name, listedBrokers, false),
        ...(body.includeTopicAuthorizedOperations
          ? { topicAuthorizedOperations: authorizedOperations(context, AclResourceType.TOPIC, topic.name) }
          : {}),
      };
    });
  return metadataResponse(body, context, brokers, listedBrokers, topics);
}

/** Kafka's MetadataRequest.getErrorResponse: every topic asked for answered with INVALID_REQUEST. */
function invalidRequest(requested: NonNullable<RequestBody<Key>['topics']>): Response {
  return {
    throttleTimeMs: 0,
    brokers: [],
    clusterId: null,
    controllerId: -1,
    topics: requested.map((topic) => ({
      errorCode: ErrorCode.INVALID_REQUEST,
      // The response has no null name before v12.
      name: topic.name ?? '',
      topicId: topic.topicId,
      isInternal: false,
      partitions: [],
    })),
  };
}

function brokersOf(
  image: MetadataImage,
  context: RequestContext,
  apiVersion: number,
): { brokers: BrokerEntry[]; listedBrokers: ListedBrokers } {
  const withoutLease = context.broker.replicaManager.leaseHeld() ? undefined : context.broker.brokerId;
  if (withoutLease !== undefined) {
    // Cut off from the quorum, this broker cannot say who leads its partitions now; many clients
    // (librdkafka among them) ask the broker they used last again and again, which would be this
    // one for as long as it stays cut off. Closed (once nothing else on the connection waits), the
    // connection makes them ask another broker, on the majority side, which knows the new leader.
    context.closeAfterResponseWhenIdle('Metadata answered without the leader lease');
  }
  const brokers = liveBrokers(image, context.connection.listenerName);
  const listed = new Set(brokers.map((entry) => entry.nodeId));
  // Leaders and the controller are named from the brokers that may act as such.
  const leading = new Set([...listed].filter((nodeId) => nodeId !== withoutLease));
  const leaderMissing: number =
    apiVersion >= listenerNotFoundVersionMin ? ErrorCode.LISTENER_NOT_FOUND : ErrorCode.LEADER_NOT_AVAILABLE;
  return { brokers, listedBrokers: { listed, leading, leaderMissing, withoutLease } };
}

function metadataResponse(
  body: RequestBody<Key>,
  context: RequestContext,
  brokers: BrokerEntry[],
  { withoutLease }: ListedBrokers,
  topics: TopicEntry[],
): Response {
  return {
    throttleTimeMs: 0,
    brokers,
    clusterId: context.broker.clusterId,
    controllerId: advertisedControllerId(
      context.broker.metadata.controllerId(),
      brokers.filter((entry) => entry.nodeId !== withoutLease),
    ),
    topics,
    clusterAuthorizedOperations: body.includeClusterAuthorizedOperations
      ? clusterAuthorizedOperations(context)
      : authorizedOperationsOmitted,
    errorCode: ErrorCode.NONE,
  };
}

/**
 * cluster_authorized_operations as Kafka's Metadata (v8-10) and DescribeCluster answer it when asked:
 * 0 without DESCRIBE on the cluster, else the bit field of the cluster operations allowed.
 */
export function clusterAuthorizedOperations(context: RequestContext): number {
  if (!authorizedOnCluster(context, AclOperation.DESCRIBE)) return 0;
  return authorizedOperations(context, AclResourceType.CLUSTER, clusterResourceName);
}

async function autoCreateTopics(broker: BrokerContext, names: readonly string[]): Promise<void> {
  const results = await broker.controller.createTopics(
    names.map((name) => ({
      name,
      numPartitions: broker.settings.numPartitions,
      replicationFactor: broker.settings.defaultReplicationFactor,
      configs: [],
    })),
    { validateOnly: false, timeoutMs: autoCreateTopicTimeoutMs },
  );
  results.forEach((result, index) => {
    // TOPIC_ALREADY_EXISTS is a race with another creator and fine; the image answers either way.
    if (isFailure(result) && result.errorCode !== ErrorCode.TOPIC_ALREADY_EXISTS) {
      broker.logger.warn(
        { topic: names[index], errorCode: result.errorCode, message: result.errorMessage },
        'topic auto-creation failed',
      );
    }
  });
}

/** The unfenced brokers with an endpoint on `listenerName`, by id. */
export function liveBrokers(image: MetadataImage, listenerName: string): BrokerEntry[] {
  const brokers: BrokerEntry[] = [];
  for (const registration of image.brokers.values()) {
    if (!isBrokerActive(registration)) continue;
    const endpoint = registration.listeners.find((listener) => listener.name === listenerName);
    if (endpoint === undefined) continue;
    brokers.push({
      nodeId: registration.brokerId,
      host: endpoint.host,
      port: endpoint.port,
      rack: registration.rack,
    });
  }
  return brokers.sort((a, b) => a.nodeId - b.nodeId);
}

/**
 * Clients send admin requests to the controller id they see, and any Gregor broker forwards them to
 * the active controller, so an id outside the broker list (a controller-only node, or none known) is
 * replaced by the lowest live broker, as KRaft brokers answer with a live broker.
 */
export function advertisedControllerId(
  controllerId: number,
  brokers: readonly { readonly nodeId: number }[],
): number {
  if (brokers.some((entry) => entry.nodeId === controllerId)) return controllerId;
  return brokers[0]?.nodeId ?? -1;
}

/** Which brokers the response lists, and the error for a live leader that is not among them. */
interface ListedBrokers {
  readonly listed: ReadonlySet<number>;
  /** The listed brokers that may be named leader (all but this one when it lacks the lease). */
  readonly leading: ReadonlySet<number>;
  /** LISTENER_NOT_FOUND (v6+) or LEADER_NOT_AVAILABLE. */
  readonly leaderMissing: number;
  /** This broker's id when it does not hold the leader lease (it is left out of the list). */
  readonly withoutLease: number | undefined;
}

function describeTopic(
  image: MetadataImage,
  name: string,
  brokers: ListedBrokers,
  justCreated: boolean,
): TopicEntry {
  const isInternal = internalTopicNames.has(name);
  const topic = image.topic(name);
  if (topic === undefined) {
    let errorCode: number = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
    if (topicNameProblem(name) !== null) errorCode = ErrorCode.INVALID_TOPIC_EXCEPTION;
    else if (justCreated) errorCode = ErrorCode.LEADER_NOT_AVAILABLE;
    return { errorCode, name, topicId: zeroUuid, isInternal, partitions: [] };
  }
  const topicId = topicIdToWire(topic.topicId);
  const partitions = topic.partitions.map((state, index) =>
    describePartition(image, topic.topicId, state, index, brokers),
  );
  if (justCreated && partitions.some((partition) => partition.leaderId === -1)) {
    return { errorCode: ErrorCode.LEADER_NOT_AVAILABLE, name, topicId, isInternal, partitions: [] };
  }
  return { errorCode: ErrorCode.NONE, name, topicId, isInternal, partitions };
}

function describePartition(
  image: MetadataImage,
  topicId: string,
  state: PartitionState,
  index: number,
  { listed, leading, leaderMissing, withoutLease }: ListedBrokers,
): TopicEntry['partitions'][number] {
  const hasLeader = state.leader >= 0 && leading.has(state.leader);
  // A live leader is only missing from the list for want of the request's listener (or of this
  // broker's lease: then the leader is not known here, and clients ask again).
  const errorCode = hasLeader
    ? ErrorCode.NONE
    : state.leader >= 0 && state.leader !== withoutLease && isBrokerActive(image.broker(state.leader))
      ? leaderMissing
      : ErrorCode.LEADER_NOT_AVAILABLE;
  return {
    errorCode,
    partitionIndex: index,
    leaderId: hasLeader ? state.leader : -1,
    leaderEpoch: state.leaderEpoch,
    replicaNodes: [...state.replicas],
    isrNodes: [...state.isr],
    // A replica is offline when its broker is not listed, or when its log dir failed (as Kafka's
    // KRaft metadata cache reports a replica whose directory is not among the broker's online dirs).
    offlineReplicas: state.replicas.filter(
      (replica) => !listed.has(replica) || isReplicaOffline(image.broker(replica), topicId, index),
    ),
  };
}

// Cluster membership (Kafka's ClusterControlManager with its BrokerHeartbeatManager): broker
// registration, sessions and heartbeats, fencing and unfencing, controlled shutdown. It decides what
// happens to a BROKER and adds the broker records; what that means for partitions (leaving ISRs,
// new leaders) is the ReplicationControlManager's, which the Controller calls next in the same batch.
//
// Its state beyond the image is in memory only and reset at activation: each broker's session
// deadline, and the metadata offset each fenced broker must reach before it is unfenced.

import { invariant } from '@gregor/ground';
import type { ControllerBatch } from './controller-batch.js';
import type { ControllerConfig } from './controller-config.js';
import { type ControllerError, ControllerErrorCode, controllerError } from './errors.js';
import { type BrokerRegistration, isBrokerActive, type MetadataImage } from './image.js';
import type { BrokerEndpoint, BrokerId, ReplicaOnBroker } from './records.js';
import { isUuid, type Uuid } from './uuid.js';

/** Listeners one broker may register: each is copied into every broker's image. */
export const listenersPerBrokerMax = 16;
/** Longest rack id accepted. */
export const rackLengthMax = 256;
/** Offline replicas one heartbeat may report; a broker with more reports the rest in later ones. */
export const offlineReplicasPerHeartbeatMax = 10_000;
/** Offline log dirs one heartbeat may report (each one is a `log.dirs` entry). */
export const offlineLogDirsPerHeartbeatMax = 256;
/** Longest listener name or host accepted (a DNS name is at most 253 characters). */
export const listenerFieldLengthMax = 255;
/** Kafka's security protocol ids: PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL. */
const securityProtocolIds: ReadonlySet<number> = new Set([0, 1, 2, 3]);

/**
 * Heartbeat intervals of grace after a controller stall: one for a heartbeat queued during the stall
 * to be read, one for a broker whose heartbeat timed out during it to send the next.
 */
const stallGraceHeartbeats = 2;

const errors = ControllerErrorCode;

export interface BrokerRegistrationRequest {
  readonly brokerId: BrokerId;
  readonly clusterId: string;
  readonly incarnationId: Uuid;
  readonly listeners: readonly BrokerEndpoint[];
  readonly rack: string | null;
}

export interface BrokerRegistrationResponse {
  readonly brokerEpoch: number;
}

export interface BrokerHeartbeatRequest {
  readonly brokerId: BrokerId;
  readonly brokerEpoch: number;
  /** The offset of the last metadata record the broker has applied (-1: none). */
  readonly currentMetadataOffset: number;
  /** The broker wants to stay fenced (e.g. its log directory failed). */
  readonly wantFence: boolean;
  /** The broker is shutting down cleanly: move its leaderships now (controlled shutdown). */
  readonly wantShutDown: boolean;
  /** Log dirs of the broker that failed (Kafka's OfflineLogDirs); absent: none. */
  readonly offlineLogDirs?: readonly string[];
  /**
   * Replicas on those dirs, at most `offlineReplicasPerHeartbeatMax`: they leave their ISRs and
   * leaderships and stay offline until the broker registers again. Absent: none.
   */
  readonly offlineReplicas?: readonly ReplicaOnBroker[];
}

export interface BrokerHeartbeatResponse {
  readonly isCaughtUp: boolean;
  readonly isFenced: boolean;
  /** The controlled shutdown is done: the broker may exit once this batch has committed. */
  readonly shouldShutDown: boolean;
}

/** A heartbeat that passed its checks: who sent it and whether it has caught up with the log. */
export interface AcceptedHeartbeat {
  readonly broker: BrokerRegistration;
  readonly isCaughtUp: boolean;
}

/** What a heartbeat did to its broker; a broker that stopped or started being active moves partitions. */
export interface HeartbeatOutcome {
  readonly response: BrokerHeartbeatResponse;
  readonly brokerChange: 'fenced' | 'unfenced' | 'none';
}

interface BrokerSession {
  deadlineMs: number;
  /** A stall grace was given since the broker's last heartbeat (at most one per heartbeat). */
  graced: boolean;
}

export interface ClusterControlActivation {
  /** The committed image the controller was activated with. */
  readonly image: MetadataImage;
  readonly controllerId: number;
  readonly nowMs: number;
  /** The metadata log end offset at activation: what a broker fenced then must reach. */
  readonly metadataLogEndOffset: number;
}

export class ClusterControlManager {
  private readonly sessions = new Map<BrokerId, BrokerSession>();
  /** The metadata offset each fenced broker must reach before it is unfenced. */
  private readonly catchUpOffsets = new Map<BrokerId, number>();
  /**
   * Brokers fenced because their session expired: cut off, they may not have seen what changed
   * since (their partitions' new leaders above all). The first heartbeat each sends again sets what
   * it must have applied before it is unfenced: the metadata log as it is then. A broker answered
   * unfenced holds the leader lease; with a stale image it would act as leader of partitions that
   * moved on while it was away.
   */
  private readonly fencedForSilence = new Set<BrokerId>();

  constructor(
    private readonly config: ControllerConfig,
    private readonly clusterId: string,
    /** The controller's working image: every record proposed so far applied, committed or not. */
    private readonly image: () => MetadataImage,
    activation: ClusterControlActivation,
  ) {
    // The previous controller lost its quorum: in Gregor every broker is also a voter, so its broker
    // is most likely dead (a kill or a crash). It gets a short session, two heartbeats, instead of a
    // full one: if it is alive it heartbeats within one interval and keeps its place; if it is dead
    // its partitions move ~1 s sooner, which is what brings failover under 2 s when the node that
    // dies led both the quorum and partitions.
    const deposedControllerId = activation.image.controller?.controllerId;
    for (const broker of activation.image.brokers.values()) {
      const sessionMs =
        broker.brokerId === deposedControllerId && deposedControllerId !== activation.controllerId
          ? Math.min(config.brokerSessionTimeoutMs, 2 * config.brokerHeartbeatIntervalMs)
          : config.brokerSessionTimeoutMs;
      this.sessions.set(broker.brokerId, { deadlineMs: activation.nowMs + sessionMs, graced: false });
      if (broker.fenced && !broker.inControlledShutdown) {
        this.catchUpOffsets.set(broker.brokerId, activation.metadataLogEndOffset);
      }
    }
  }

  /** When the broker's session expires unless it heartbeats (undefined: no session). */
  sessionDeadlineMs(brokerId: BrokerId): number | undefined {
    return this.sessions.get(brokerId)?.deadlineMs;
  }

  /** Registered, unfenced and not shutting down: may lead and be in ISRs, and receive new replicas. */
  activeBrokerIds(): BrokerId[] {
    return [...this.image().brokers.values()].filter(isBrokerActive).map((broker) => broker.brokerId);
  }

  /** Whether the broker is registered, unfenced and not shutting down. */
  isActive(brokerId: BrokerId): boolean {
    return isBrokerActive(this.image().broker(brokerId));
  }

  /** The broker as registered, if `brokerEpoch` is its current registration's. */
  registeredBroker(brokerId: BrokerId, brokerEpoch: number): BrokerRegistration | ControllerError {
    const broker = this.image().broker(brokerId);
    if (broker === undefined) {
      return controllerError(errors.BROKER_ID_NOT_REGISTERED, `broker ${brokerId} is not registered`);
    }
    if (broker.brokerEpoch !== brokerEpoch) {
      return controllerError(
        errors.STALE_BROKER_EPOCH,
        `broker ${brokerId} epoch ${brokerEpoch} is not its registered ${broker.brokerEpoch}`,
      );
    }
    return broker;
  }

  /**
   * A broker (re)registers: adds its registration record, fenced. It is unfenced by a heartbeat
   * whose metadata offset has reached `metadataLogEndOffset`, the log end when the registration was
   * accepted, i.e. once it has applied everything committed before it joined. The caller then takes
   * the old incarnation out of every ISR and leadership (a restart, maybe after kill -9 with
   * unflushed data).
   */
  registerBroker(
    batch: ControllerBatch,
    request: BrokerRegistrationRequest,
    nowMs: number,
    metadataLogEndOffset: number,
  ): BrokerRegistrationResponse | ControllerError {
    if (request.clusterId !== this.clusterId) {
      return controllerError(
        errors.INCONSISTENT_CLUSTER_ID,
        `cluster id ${request.clusterId} is not this cluster's ${this.clusterId}`,
      );
    }
    const problem = registrationProblem(request);
    if (problem !== null) return controllerError(errors.INVALID_REQUEST, problem);
    const image = this.image();
    const existing = image.broker(request.brokerId);
    if (
      existing !== undefined &&
      existing.incarnationId !== request.incarnationId &&
      !existing.fenced &&
      this.hasLiveSession(request.brokerId, nowMs)
    ) {
      // Two processes with one id: the old one is still heartbeating (or died less than a session ago).
      return controllerError(
        errors.DUPLICATE_BROKER_REGISTRATION,
        `broker ${request.brokerId} is registered by incarnation ${existing.incarnationId} with a live session`,
      );
    }
    const brokerEpoch = image.highestBrokerEpoch + 1;
    batch.add({
      type: 'registerBroker',
      brokerId: request.brokerId,
      incarnationId: request.incarnationId,
      brokerEpoch,
      listeners: request.listeners,
      rack: request.rack,
      fenced: true,
      inControlledShutdown: false,
    });
    this.sessions.set(request.brokerId, {
      deadlineMs: nowMs + this.config.brokerSessionTimeoutMs,
      graced: false,
    });
    this.catchUpOffsets.set(request.brokerId, metadataLogEndOffset);
    this.fencedForSilence.delete(request.brokerId);
    return { brokerEpoch };
  }

  /**
   * The checks of a heartbeat, and the renewal of its sender's session (done even when the report it
   * carries is refused for its size: the broker is alive).
   */
  acceptHeartbeat(
    request: BrokerHeartbeatRequest,
    nowMs: number,
    metadataLogEndOffset: number,
  ): AcceptedHeartbeat | ControllerError {
    const broker = this.registeredBroker(request.brokerId, request.brokerEpoch);
    if ('errorCode' in broker) return broker;
    this.sessions.set(request.brokerId, {
      deadlineMs: nowMs + this.config.brokerSessionTimeoutMs,
      graced: false,
    });
    if (this.fencedForSilence.delete(request.brokerId) && broker.fenced) {
      // Everything in the log now, its own fencing and its partitions' new leaders included.
      this.catchUpOffsets.set(request.brokerId, metadataLogEndOffset - 1);
    }
    const catchUpOffset = this.catchUpOffsets.get(request.brokerId);
    const isCaughtUp = catchUpOffset === undefined || request.currentMetadataOffset >= catchUpOffset;
    if (
      (request.offlineReplicas ?? []).length > offlineReplicasPerHeartbeatMax ||
      (request.offlineLogDirs ?? []).length > offlineLogDirsPerHeartbeatMax
    ) {
      return controllerError(
        errors.INVALID_REQUEST,
        `a heartbeat reports at most ${offlineReplicasPerHeartbeatMax} offline replicas and ${offlineLogDirsPerHeartbeatMax} offline log dirs`,
      );
    }
    return { broker, isCaughtUp };
  }

  /**
   * What an accepted heartbeat asks of its broker: a controlled shutdown, staying fenced, or (once
   * caught up) being unfenced. Adds the broker records; the caller moves partitions accordingly.
   */
  applyHeartbeat(
    batch: ControllerBatch,
    request: BrokerHeartbeatRequest,
    { broker, isCaughtUp }: AcceptedHeartbeat,
  ): HeartbeatOutcome {
    const { brokerId, brokerEpoch } = broker;
    if (request.wantShutDown || broker.inControlledShutdown) {
      let brokerChange: HeartbeatOutcome['brokerChange'] = 'none';
      if (!broker.inControlledShutdown) {
        batch.add({ type: 'brokerRegistrationChange', brokerId, brokerEpoch, inControlledShutdown: true });
        if (!broker.fenced) batch.add({ type: 'fenceBroker', brokerId, brokerEpoch });
        brokerChange = 'fenced';
      }
      return { response: { isCaughtUp, isFenced: true, shouldShutDown: true }, brokerChange };
    }
    if (request.wantFence) {
      let brokerChange: HeartbeatOutcome['brokerChange'] = 'none';
      if (!broker.fenced) {
        batch.add({ type: 'fenceBroker', brokerId, brokerEpoch });
        brokerChange = 'fenced';
      }
      return { response: { isCaughtUp, isFenced: true, shouldShutDown: false }, brokerChange };
    }
    if (broker.fenced && isCaughtUp) {
      batch.add({ type: 'unfenceBroker', brokerId, brokerEpoch });
      this.catchUpOffsets.delete(brokerId);
      return { response: { isCaughtUp, isFenced: false, shouldShutDown: false }, brokerChange: 'unfenced' };
    }
    return { response: { isCaughtUp, isFenced: broker.fenced, shouldShutDown: false }, brokerChange: 'none' };
  }

  /**
   * UnregisterBroker (Kafka's ReplicationControlManager.unregisterBroker): removes the broker's
   * registration, fencing it first if it is active, as Kafka does not refuse an active broker (its
   * next heartbeat is answered BROKER_ID_NOT_REGISTERED and it registers again). Returns whether it
   * was fenced here, so that the caller moves its partitions before the registration goes.
   */
  fenceForUnregistration(batch: ControllerBatch, brokerId: BrokerId): { fenced: boolean } | ControllerError {
    const broker = batch.delta.broker(brokerId);
    if (broker === undefined) {
      return controllerError(
        errors.BROKER_ID_NOT_REGISTERED,
        `Broker ID ${brokerId} is not currently registered`,
      );
    }
    if (broker.fenced) return { fenced: false };
    batch.add({ type: 'fenceBroker', brokerId, brokerEpoch: broker.brokerEpoch });
    return { fenced: true };
  }

  /** The registration record, once the broker's partitions have moved; its session is forgotten. */
  unregisterBroker(batch: ControllerBatch, brokerId: BrokerId): void {
    const broker = batch.delta.broker(brokerId);
    invariant(broker !== undefined, () => `broker ${brokerId} to unregister is not registered`);
    batch.add({ type: 'unregisterBroker', brokerId, brokerEpoch: broker.brokerEpoch });
    this.sessions.delete(brokerId);
    this.catchUpOffsets.delete(brokerId);
    this.fencedForSilence.delete(brokerId);
  }

  /**
   * The controller itself stalled (its tick ran late): heartbeats that arrived meanwhile are still
   * queued, so every session that is (nearly) expired gets a short grace to let them through. Once
   * per heartbeat, so a driver that ticks too rarely (a "stall" at every tick) delays fencing a dead
   * broker by one grace, not forever.
   */
  graceSessionsAfterStall(nowMs: number): void {
    const graceDeadlineMs = nowMs + stallGraceHeartbeats * this.config.brokerHeartbeatIntervalMs;
    for (const session of this.sessions.values()) {
      if (session.graced || session.deadlineMs >= graceDeadlineMs) continue;
      session.deadlineMs = graceDeadlineMs;
      session.graced = true;
    }
  }

  /** Fences every active broker whose session expired; returns them in id order. */
  fenceExpiredBrokers(batch: ControllerBatch, nowMs: number): BrokerId[] {
    const expired = [...this.sessions]
      .filter(([brokerId, session]) => nowMs >= session.deadlineMs && batch.isActive(brokerId))
      .map(([brokerId]) => brokerId)
      .sort((a, b) => a - b);
    for (const brokerId of expired) {
      const broker = batch.delta.broker(brokerId);
      invariant(broker !== undefined, () => `active broker ${brokerId} is not registered`);
      batch.add({ type: 'fenceBroker', brokerId, brokerEpoch: broker.brokerEpoch });
      this.fencedForSilence.add(brokerId);
    }
    return expired;
  }

  /** The earliest session deadline of a broker still active in `batch`, or `latestMs` if later. */
  nextSessionDeadlineMs(batch: ControllerBatch, latestMs: number): number {
    let nextMs = latestMs;
    for (const [brokerId, session] of this.sessions) {
      if (batch.isActive(brokerId)) nextMs = Math.min(nextMs, session.deadlineMs);
    }
    return nextMs;
  }

  private hasLiveSession(brokerId: BrokerId, nowMs: number): boolean {
    const session = this.sessions.get(brokerId);
    return session !== undefined && nowMs < session.deadlineMs;
  }
}

export function isInt32Id(value: number): boolean {
  return Number.isInteger(value) && value >= 0 && value <= 0x7fffffff;
}

function registrationProblem(request: BrokerRegistrationRequest): string | null {
  if (!isInt32Id(request.brokerId)) return `invalid broker id ${request.brokerId}`;
  if (!isUuid(request.incarnationId)) return `invalid incarnation id ${request.incarnationId}`;
  if (request.listeners.length === 0 || request.listeners.length > listenersPerBrokerMax) {
    return `a broker registers 1 to ${listenersPerBrokerMax} listeners, not ${request.listeners.length}`;
  }
  const listenerNames = request.listeners.map((listener) => listener.name);
  if (new Set(listenerNames).size !== listenerNames.length) return `listener names repeat: ${listenerNames}`;
  for (const listener of request.listeners) {
    if (!Number.isInteger(listener.port) || listener.port < 1 || listener.port > 0xffff) {
      return `listener ${listener.name} port ${listener.port} is not in [1, 65535]`;
    }
    if (!securityProtocolIds.has(listener.securityProtocol)) {
      return `listener ${listener.name} security protocol ${listener.securityProtocol} is not one of Kafka's (0-3)`;
    }
    if (listener.name.length > listenerFieldLengthMax || listener.host.length > listenerFieldLengthMax) {
      return `a listener name or host is longer than ${listenerFieldLengthMax} characters`;
    }
  }
  if (request.rack !== null && request.rack.length > rackLengthMax) {
    return `rack id is longer than ${rackLengthMax} characters`;
  }
  return null;
}

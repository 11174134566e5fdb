// A broker's life as the controller sees it (KIP-631): register (fenced), heartbeat with the
// metadata offset it has applied until the controller unfences it, keep heartbeating to stay
// alive, and on a clean shutdown ask the controller to move its leaderships away first. A failed
// log dir rides on the next heartbeat, sent at once (KIP-858's OfflineLogDirs). Every answered
// heartbeat renews the leader lease (broker-lease.ts); when it runs out, `onLeaseLapsed` is called.
// Heartbeats go out an interval after the previous one was sent, answered or not (heartbeat-pacer.ts).

import { randomInt } from 'node:crypto';
import { randomUuid } from '@gregor/metadata';
import { ErrorCode, errorName } from '@gregor/protocol';
import type { ControllerClient } from '../grpc/controller-grpc.js';
import type { Logger } from '../logging.js';
import type { Endpoint } from '../quorum/controller-rpc.js';
import type { BrokerLease } from './broker-lease.js';
import { HeartbeatPacer, heartbeatsInFlightMax } from './heartbeat-pacer.js';

export interface BrokerLifecycleOptions {
  readonly brokerId: number;
  readonly listeners: readonly Endpoint[];
  readonly rack: string | null;
  readonly heartbeatIntervalMs: number;
  readonly client: ControllerClient;
  /** The offset of the last metadata entry this broker has applied. */
  readonly appliedMetadataOffset: () => number;
  /**
   * The failed log dirs, and the replicas on them that the metadata does not list as offline yet
   * (at most what one heartbeat may carry); sent with every heartbeat until the metadata lists them.
   */
  readonly offlineLogDirs: () => OfflineLogDirReport;
  /** Renewed by every heartbeat the controller answers (from the heartbeat's send time). */
  readonly lease: BrokerLease;
  /** The lease ran out (no heartbeat answered for a session): requests parked as leader should end now. */
  readonly onLeaseLapsed: () => void;
  /** The lease is held again after it lapsed (or for the first time): act as leader once more. */
  readonly onLeaseHeld?: () => void;
  readonly logger: Logger;
}

export interface OfflineLogDirReport {
  readonly logDirs: readonly string[];
  readonly replicas: readonly { readonly topicId: string; readonly partitionIndex: number }[];
}

export type BrokerState = 'starting' | 'fenced' | 'running' | 'shutting-down' | 'stopped';

export class BrokerLifecycle {
  private brokerEpochValue = -1;
  private stateValue: BrokerState = 'starting';
  private timer: NodeJS.Timeout | undefined;
  /** New for every process start: the controller tells a restart from a still-running broker by it. */
  private readonly incarnationId = randomUuid({ nextInt: (maxExclusive) => randomInt(maxExclusive) });
  private stopped = false;
  /** When the next heartbeat goes, and which answers are applied. */
  private readonly pacer: HeartbeatPacer;
  /** Something to report came up while no heartbeat could go: send the next one as soon as one may. */
  private heartbeatSoon = false;
  private readonly unfencedWaiters: (() => void)[] = [];
  /** When the controller last answered a registration or heartbeat (Date.now()); undefined before. */
  private answeredAtMs: number | undefined;
  /** Fires when the lease would run out unless another heartbeat is answered first. */
  private leaseTimer: NodeJS.Timeout | undefined;
  private leaseHeldBefore = false;
  /**
   * Heartbeat calls that ended without the controller's answer since the last answered one, and
   * what the last of them said (NOT_CONTROLLER's reason, a timeout): why a lease lapsed.
   */
  private failedSinceAnswer = 0;
  private lastFailure: { readonly error: string; readonly detail: string } | undefined;

  constructor(private readonly options: BrokerLifecycleOptions) {
    this.pacer = new HeartbeatPacer(
      options.heartbeatIntervalMs,
      heartbeatsInFlightMax(options.lease.sessionTimeoutMs, options.heartbeatIntervalMs),
    );
  }

  get brokerEpoch(): number {
    return this.brokerEpochValue;
  }

  get state(): BrokerState {
    return this.stateValue;
  }

  /** Milliseconds since the controller last answered this broker; undefined before it ever did. */
  answeredAgoMs(nowMs: number): number | undefined {
    return this.answeredAtMs === undefined ? undefined : nowMs - this.answeredAtMs;
  }

  start(): void {
    void this.register();
  }

  /** Resolves once the controller has unfenced this broker. */
  whenUnfenced(): Promise<void> {
    if (this.stateValue === 'running') return Promise.resolve();
    return new Promise((resolve) => this.unfencedWaiters.push(resolve));
  }

  private async register(): Promise<void> {
    while (!this.stopped) {
      const response = await this.options.client.call(
        'RegisterBroker',
        {
          brokerId: this.options.brokerId,
          incarnationId: this.incarnationId,
          listeners: [...this.options.listeners],
          rack: this.options.rack ?? '',
          hasRack: this.options.rack !== null,
        },
        this.options.heartbeatIntervalMs * 4,
      );
      if (response.status.errorCode === ErrorCode.NONE) {
        this.answeredAtMs = Date.now();
        this.brokerEpochValue = response.brokerEpoch;
        this.stateValue = 'fenced';
        this.options.logger.info({ brokerEpoch: response.brokerEpoch }, 'registered with the controller');
        // Answers to heartbeats of the previous registration, still on their way, are not applied.
        this.pacer.reset();
        this.scheduleHeartbeat();
        return;
      }
      this.options.logger.debug(
        { error: errorName(response.status.errorCode), detail: response.status.errorMessage },
        'registration failed; retrying',
      );
      await new Promise((resolve) => setTimeout(resolve, this.options.heartbeatIntervalMs));
    }
  }

  /**
   * Arms the timer of the next heartbeat: an interval after the last one was sent (at once when
   * something is to be reported), or none while as many as may be are unanswered (an answer
   * calls this again). Idempotent: it re-arms for the same time.
   */
  private scheduleHeartbeat(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.stopped || this.stateValue === 'starting') return;
    const dueInMs = this.pacer.nextSendDelayMs(this.options.lease.nowMs());
    if (dueInMs === undefined) return;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        void this.heartbeat(false);
      },
      this.heartbeatSoon ? 0 : dueInMs,
    );
  }

  /** A log dir failed: tell the controller now rather than at the next heartbeat interval. */
  heartbeatNow(): void {
    if (this.stopped || this.stateValue === 'starting') return;
    this.heartbeatSoon = true;
    this.scheduleHeartbeat();
  }

  private async heartbeat(wantShutDown: boolean): Promise<{ shouldShutDown: boolean } | undefined> {
    const offline = this.options.offlineLogDirs();
    const sentAtMs = this.options.lease.nowMs();
    const seq = this.pacer.sent(sentAtMs);
    this.heartbeatSoon = false;
    // The next one is due an interval after this send, whenever this one is answered.
    if (!wantShutDown) this.scheduleHeartbeat();
    const response = await this.options.client
      .call(
        'BrokerHeartbeat',
        {
          brokerId: this.options.brokerId,
          brokerEpoch: this.brokerEpochValue,
          currentMetadataOffset: this.options.appliedMetadataOffset(),
          wantFence: false,
          wantShutDown,
          offlineLogDirs: [...offline.logDirs],
          offlineReplicas: offline.replicas.map((replica) => ({ ...replica })),
        },
        // A slow answer still renews the lease (from this send), so wait for it as long as it could.
        Math.max(this.options.heartbeatIntervalMs * 2, this.options.lease.sessionTimeoutMs),
      )
      .catch((error: unknown) => {
        // Not expected (the client answers failures with a status): still, it is no longer in flight.
        this.pacer.answered(seq, false);
        throw error;
      });
    const code = response.status.errorCode;
    const refused = code === ErrorCode.STALE_BROKER_EPOCH || code === ErrorCode.BROKER_ID_NOT_REGISTERED;
    // Other errors (no controller, timed out) say nothing about this broker.
    const apply = this.pacer.answered(seq, code === ErrorCode.NONE || refused);
    if (code === ErrorCode.NONE || refused) this.heartbeatAnswered();
    else this.heartbeatFailed(seq, code, response.status.errorMessage, sentAtMs);
    if (wantShutDown) {
      if (code !== ErrorCode.NONE) return undefined;
      // It leads until the controller has moved its leaderships.
      if (apply) this.options.lease.answered(sentAtMs, response.isFenced);
      return response;
    }
    if (this.stopped || this.stateValue === 'starting') return undefined;
    if ((code === ErrorCode.NONE || refused) && !apply) {
      // A later heartbeat's answer was applied first: this older one says nothing newer.
      this.scheduleHeartbeat();
      return undefined;
    }
    if (refused) {
      // The controller no longer knows this incarnation (e.g. it was replaced): register again.
      this.options.logger.warn({ error: errorName(code) }, 'controller refused heartbeat; registering again');
      this.options.lease.answered(sentAtMs, true);
      this.watchLease();
      this.stateValue = 'starting';
      // No heartbeat until registered again (the one armed at this send is cancelled).
      this.scheduleHeartbeat();
      void this.register();
      return undefined;
    }
    if (code === ErrorCode.NONE) {
      this.answeredAtMs = Date.now();
      this.options.lease.answered(sentAtMs, response.isFenced);
      if (!response.isFenced && this.stateValue === 'fenced') {
        this.stateValue = 'running';
        this.options.logger.info({ brokerEpoch: this.brokerEpochValue }, 'unfenced: broker is running');
        for (const resolve of this.unfencedWaiters.splice(0)) resolve();
      } else if (response.isFenced && this.stateValue === 'running') {
        this.stateValue = 'fenced';
        this.options.logger.warn('controller fenced this broker');
      }
    }
    this.watchLease();
    // At the limit of unanswered heartbeats, none was scheduled: this answer makes room.
    this.scheduleHeartbeat();
    return undefined;
  }

  /**
   * A heartbeat call ended without an answer from the controller. The first of a run is a warning
   * with the reason (the controller's NOT_CONTROLLER message names why it refused, e.g. no majority
   * of voters fetched from it); the rest of the run are debug lines.
   */
  private heartbeatFailed(seq: number, code: number, detail: string, sentAtMs: number): void {
    // Sent before one whose answer was applied (calls end out of order): it says nothing about now.
    if (this.pacer.superseded(seq)) return;
    this.failedSinceAnswer++;
    this.lastFailure = { error: errorName(code), detail };
    const fields = {
      error: errorName(code),
      detail,
      waitedMs: Math.round(this.options.lease.nowMs() - sentAtMs),
      leaseRemainingMs: Math.round(this.options.lease.remainingMs()),
    };
    if (this.failedSinceAnswer === 1)
      this.options.logger.warn(fields, 'heartbeat not answered by the controller');
    else this.options.logger.debug(fields, 'heartbeat not answered by the controller');
  }

  private heartbeatAnswered(): void {
    if (this.failedSinceAnswer > 0) {
      this.options.logger.info(
        { unansweredBefore: this.failedSinceAnswer },
        'the controller answers heartbeats again',
      );
    }
    this.failedSinceAnswer = 0;
    this.lastFailure = undefined;
  }

  /** Logs the lease's changes and arms the timer that ends it on time if no answer renews it. */
  private watchLease(): void {
    const lease = this.options.lease;
    const held = lease.held();
    if (held && !this.leaseHeldBefore) {
      this.options.logger.info({ remainingMs: lease.remainingMs() }, 'leader lease held: acting as leader');
      this.options.onLeaseHeld?.();
    } else if (!held && this.leaseHeldBefore) {
      this.leaseLapsed();
    }
    this.leaseHeldBefore = held;
    if (this.leaseTimer !== undefined) clearTimeout(this.leaseTimer);
    this.leaseTimer = undefined;
    if (!held || this.stopped) return;
    this.leaseTimer = setTimeout(() => {
      this.leaseTimer = undefined;
      if (this.stopped || lease.held()) return;
      this.leaseHeldBefore = false;
      this.leaseLapsed();
    }, lease.remainingMs() + 1);
  }

  private leaseLapsed(): void {
    // What the heartbeats in the last session met, as far as known yet: those still in flight may
    // end with a reason later (logged then).
    this.options.logger.warn(
      {
        unansweredHeartbeats: this.pacer.unanswered,
        failedHeartbeats: this.failedSinceAnswer,
        lastError: this.lastFailure?.error,
        lastErrorDetail: this.lastFailure?.detail,
      },
      'leader lease lapsed: no heartbeat answered within broker.session.timeout.ms; not acting as leader',
    );
    this.options.onLeaseLapsed();
  }

  /**
   * Controlled shutdown: heartbeats with wantShutDown until the controller says its leaderships
   * have moved (or `timeoutMs` passes), then stops heartbeating.
   */
  async shutDown(timeoutMs: number): Promise<boolean> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.leaseTimer !== undefined) clearTimeout(this.leaseTimer);
    if (this.brokerEpochValue < 0) {
      this.stateValue = 'stopped';
      return false;
    }
    this.stateValue = 'shutting-down';
    const deadlineMs = Date.now() + timeoutMs;
    while (Date.now() < deadlineMs) {
      const response = await this.heartbeat(true);
      if (response?.shouldShutDown) {
        this.stateValue = 'stopped';
        return true;
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(100, this.options.heartbeatIntervalMs)));
    }
    this.stateValue = 'stopped';
    return false;
  }

  close(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.leaseTimer !== undefined) clearTimeout(this.leaseTimer);
  }
}

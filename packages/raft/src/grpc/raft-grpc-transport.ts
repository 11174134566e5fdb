/**
 * Sends Raft messages to the other voters over gRPC: one client (one HTTP/2 channel) per voter, one
 * unary Deliver call per message, fire and forget. Raft resends whatever it still needs after
 * requestTimeoutMs, so a failed call is only logged at debug.
 */
import * as grpc from '@grpc/grpc-js';
import type { RaftMessage } from '../core/messages.js';
import type { QuorumVoter } from '../core/voters.js';
import { type RaftLogger, type RaftTransport, silentLogger } from '../driver/types.js';
import { encodeRaftEnvelope, type WireEnvelope } from './raft-codec.js';
import { loadRaftQuorumDefinition } from './raft-service.js';

export interface RaftGrpcTransportOptions {
  readonly nodeId: number;
  /** controller.quorum.voters, parsed; this node's own entry is skipped. */
  readonly voters: readonly QuorumVoter[];
  /**
   * A voter's current gRPC target (`host:port`), asked before every send; when it differs from the one
   * in use, that peer's channel is replaced. For voters that bind port 0 and so get a new port on each
   * start. Without it, the addresses in `voters` are used (a voter with port 0 is unreachable).
   */
  readonly addressOf?: (voterId: number) => string | undefined;
  readonly logger?: RaftLogger;
  /** How to dial the other voters (TLS, mutual when the servers ask); insecure when absent. */
  readonly credentials?: grpc.ChannelCredentials;
  readonly protoPath?: string;
  /**
   * Deadline of one Deliver call. A message older than the core's request timeout is useless (the core
   * has sent a newer one), so createRaftDriver passes requestTimeoutMs.
   */
  readonly sendDeadlineMs?: number;
  /** Messages waiting for a free call slot, per peer; beyond it the oldest is dropped (see below). */
  readonly peerQueueMessagesMax?: number;
  /** Deliver calls in flight per peer: bounds memory and HTTP/2 streams when a peer is slow. */
  readonly peerInFlightCallsMax?: number;
  readonly keepaliveTimeMs?: number;
  readonly keepaliveTimeoutMs?: number;
  readonly reconnectBackoffInitialMs?: number;
  /** grpc-js defaults to 120 s, far too long for a voter that restarts during a failover. */
  readonly reconnectBackoffMaxMs?: number;
}

export const RAFT_GRPC_TRANSPORT_DEFAULTS = Object.freeze({
  sendDeadlineMs: 1_000,
  peerQueueMessagesMax: 256,
  peerInFlightCallsMax: 16,
  // Detects a peer that vanished without closing its socket (power loss, partition) within ~15 s even
  // when no call is failing on its own, so the channel reconnects.
  keepaliveTimeMs: 10_000,
  keepaliveTimeoutMs: 5_000,
  reconnectBackoffInitialMs: 100,
  reconnectBackoffMaxMs: 1_000,
});

export interface PeerSendStats {
  sent: number;
  failed: number;
  /** Dropped because the peer's queue was full. */
  dropped: number;
}

type PeerClient = grpc.Client & {
  Deliver(
    request: WireEnvelope,
    options: grpc.CallOptions,
    callback: (error: grpc.ServiceError | null) => void,
  ): grpc.ClientUnaryCall;
};

interface Peer {
  readonly id: number;
  /** The target `client` is connected to; undefined while the voter's address is not known. */
  address: string | undefined;
  client: PeerClient | undefined;
  readonly queue: WireEnvelope[];
  inFlight: number;
  readonly stats: PeerSendStats;
}

export class RaftGrpcTransport implements RaftTransport {
  private readonly peers = new Map<number, Peer>();
  private readonly logger: RaftLogger;
  private readonly settings: typeof RAFT_GRPC_TRANSPORT_DEFAULTS;
  private readonly addressOf: (voterId: number) => string | undefined;
  private readonly createClient: (address: string) => PeerClient;
  private closed = false;

  constructor(options: RaftGrpcTransportOptions) {
    this.logger = options.logger ?? silentLogger;
    this.settings = { ...RAFT_GRPC_TRANSPORT_DEFAULTS, ...definedOnly(options) };
    const { Client } = loadRaftQuorumDefinition(options.protoPath);
    const credentials = options.credentials ?? grpc.credentials.createInsecure();
    const channelOptions: grpc.ChannelOptions = {
      'grpc.keepalive_time_ms': this.settings.keepaliveTimeMs,
      'grpc.keepalive_timeout_ms': this.settings.keepaliveTimeoutMs,
      'grpc.keepalive_permit_without_calls': 1,
      'grpc.initial_reconnect_backoff_ms': this.settings.reconnectBackoffInitialMs,
      'grpc.max_reconnect_backoff_ms': this.settings.reconnectBackoffMaxMs,
    };
    this.createClient = (address) =>
      new Client(address, credentials, channelOptions) as unknown as PeerClient;
    const configured = new Map<number, string>();
    for (const voter of options.voters) {
      if (voter.id === options.nodeId) continue;
      if (voter.port !== 0) configured.set(voter.id, grpcTarget(voter.host, voter.port));
      this.peers.set(voter.id, {
        id: voter.id,
        address: undefined,
        client: undefined,
        queue: [],
        inFlight: 0,
        stats: { sent: 0, failed: 0, dropped: 0 },
      });
    }
    this.addressOf = options.addressOf ?? ((voterId) => configured.get(voterId));
  }

  send(message: RaftMessage): void {
    if (this.closed) return;
    const peer = this.peers.get(message.to);
    if (peer === undefined || !this.connect(peer)) {
      this.logger.debug({ to: message.to, type: message.type }, 'no address for raft peer; message dropped');
      return;
    }
    if (peer.queue.length >= this.settings.peerQueueMessagesMax) {
      // Drop the oldest: the newest message carries the node's latest state (a newer fetch offset, a
      // newer epoch), while old ones are what the receiver would discard as stale anyway.
      peer.queue.shift();
      peer.stats.dropped++;
    }
    peer.queue.push(encodeRaftEnvelope(message));
    this.pump(peer);
  }

  stats(peerId: number): Readonly<PeerSendStats> | undefined {
    return this.peers.get(peerId)?.stats;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const peer of this.peers.values()) {
      peer.queue.length = 0;
      peer.client?.close();
    }
  }

  /** Points the peer's channel at the voter's current address; false while it has none. */
  private connect(peer: Peer): boolean {
    const address = this.addressOf(peer.id);
    if (address === peer.address) return address !== undefined;
    if (peer.address !== undefined) {
      this.logger.info({ to: peer.id, from: peer.address, address }, 'raft peer address changed');
    }
    // Calls in flight on the old channel fail; Raft resends what it still needs.
    peer.client?.close();
    peer.address = address;
    peer.client = address === undefined ? undefined : this.createClient(address);
    return address !== undefined;
  }

  private pump(peer: Peer): void {
    while (!this.closed && peer.inFlight < this.settings.peerInFlightCallsMax && peer.queue.length > 0) {
      const { client, address } = peer;
      if (client === undefined) return;
      const envelope = peer.queue.shift()!;
      peer.inFlight++;
      // gRPC deadlines are wall-clock Dates; only their distance from now matters here.
      const deadline = new Date(Date.now() + this.settings.sendDeadlineMs);
      client.Deliver(envelope, { deadline }, (error) => {
        peer.inFlight--;
        if (error === null) {
          peer.stats.sent++;
        } else {
          peer.stats.failed++;
          this.logger.debug(
            { to: peer.id, address, code: error.code, details: error.details },
            'raft message not delivered',
          );
        }
        this.pump(peer);
      });
    }
  }
}

/** gRPC's `host:port` target, an IPv6 host in brackets. */
export function grpcTarget(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

function definedOnly(options: RaftGrpcTransportOptions): Partial<typeof RAFT_GRPC_TRANSPORT_DEFAULTS> {
  const result: Record<string, number> = {};
  for (const key of Object.keys(
    RAFT_GRPC_TRANSPORT_DEFAULTS,
  ) as (keyof typeof RAFT_GRPC_TRANSPORT_DEFAULTS)[]) {
    const value = options[key];
    if (value !== undefined) result[key] = value;
  }
  return result;
}

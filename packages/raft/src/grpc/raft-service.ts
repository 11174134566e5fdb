/**
 * The RaftQuorum gRPC service (proto/raft.proto): one unary Deliver call per Raft message. It is
 * registered on a grpc.Server the caller owns, so a node hosts Raft, the controller service and replica
 * fetching on one server and one port.
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { RaftMessage } from '../core/messages.js';
import { RefusalLog } from '../driver/refusal-log.js';
import { type RaftInboundVerdict, type RaftLogger, silentLogger } from '../driver/types.js';
import { findRaftProtoPath } from './proto-path.js';
import { decodeRaftEnvelope, type WireEnvelope } from './raft-codec.js';

/** How proto-loader maps proto/raft.proto to JavaScript; raft-codec.ts is written against these. */
const PROTO_LOADER_OPTIONS: protoLoader.Options = {
  keepCase: false,
  // Offsets are below 2^53 by construction, and the decoder refuses any that are not safe integers.
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
};

export interface RaftQuorumDefinition {
  readonly service: grpc.ServiceDefinition;
  readonly Client: grpc.ServiceClientConstructor;
}

const definitions = new Map<string, RaftQuorumDefinition>();

/** Parses proto/raft.proto once per path. */
export function loadRaftQuorumDefinition(protoPath: string = findRaftProtoPath()): RaftQuorumDefinition {
  const cached = definitions.get(protoPath);
  if (cached !== undefined) return cached;
  const packageDefinition = protoLoader.loadSync(protoPath, PROTO_LOADER_OPTIONS);
  const loaded = grpc.loadPackageDefinition(packageDefinition) as unknown as {
    gregor: { raft: { RaftQuorum: grpc.ServiceClientConstructor } };
  };
  const Client = loaded.gregor.raft.RaftQuorum;
  const definition = { service: Client.service, Client };
  definitions.set(protoPath, definition);
  return definition;
}

/** The node's handler for inbound messages: usually `(message) => driver.receive(message)`. */
// biome-ignore lint/suspicious/noConfusingVoidType: a handler that does not report a verdict is fine.
export type RaftMessageHandler = (message: RaftMessage) => RaftInboundVerdict | void;

export interface RaftServiceOptions {
  readonly logger?: RaftLogger;
  readonly protoPath?: string;
  /** For the refusal log's rate limit. */
  readonly nowMs?: () => number;
}

/**
 * Adds RaftQuorum to server. Works before or after server.bindAsync (grpc-js dispatches by method
 * path at call time). Malformed envelopes are answered INVALID_ARGUMENT and logged (rate-limited);
 * refusals from the handler become FAILED_PRECONDITION or UNAVAILABLE so the sender sees why.
 */
export function registerRaftService(
  server: grpc.Server,
  onMessage: RaftMessageHandler,
  options: RaftServiceOptions = {},
): void {
  const logger = options.logger ?? silentLogger;
  const refusals = new RefusalLog(logger, options.nowMs ?? (() => performance.now()));
  const { service } = loadRaftQuorumDefinition(options.protoPath);
  const deliver: grpc.handleUnaryCall<WireEnvelope, Record<string, never>> = (call, callback) => {
    const decoded = decodeRaftEnvelope(call.request);
    if (!decoded.ok) {
      const from = typeof call.request.from === 'number' ? call.request.from : -1;
      refusals.refused(
        from,
        'malformed',
        { peer: call.getPeer(), detail: decoded.reason },
        'malformed raft envelope',
      );
      callback({ code: grpc.status.INVALID_ARGUMENT, details: `malformed raft envelope: ${decoded.reason}` });
      return;
    }
    const verdict = onMessage(decoded.message);
    if (verdict === undefined || verdict.kind === 'accepted') {
      callback(null, {});
      return;
    }
    const code = verdict.kind === 'not-running' ? grpc.status.UNAVAILABLE : grpc.status.FAILED_PRECONDITION;
    callback({ code, details: `raft message refused: ${verdict.kind}` });
  };
  server.addService(service, { Deliver: deliver });
}

/** Removes RaftQuorum from server (a closed driver), so that a restarted driver can register again. */
export function unregisterRaftService(server: grpc.Server, protoPath?: string): void {
  server.removeService(loadRaftQuorumDefinition(protoPath).service);
}

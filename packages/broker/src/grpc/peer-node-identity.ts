// Ties a node's certificate to its node id on the nodes' own gRPC. With mutual TLS on the
// controller listener, any certificate the truststore vouches for gets through the handshake; this
// checks, per call, that a call naming a node (the Raft envelope's sender, the broker id of a
// registration, heartbeat, ISR change or producer-id block, the replica id of a replica fetch) comes
// from a certificate of that node, so node 2's certificate cannot act as node 3.
//
// The convention: a node's certificate has the subject common name `node-<id>` (CN=node-3 for
// node.id=3). The CN, not a SAN: the SANs name the hosts and addresses a peer dials (checked by
// ssl.endpoint.identification.algorithm), and a `node-<id>` DNS name there would also pass for a
// host of that name; the CN is left free by hostname verification, and one certificate has exactly
// one, so it names exactly one node. Calls that name no node (admin calls forwarded to the
// controller, transaction markers, a leader's high watermarks, DescribeMetadata) need only a
// trusted certificate.
//
// Without a client certificate there is nothing to check: a PLAINTEXT controller listener (local
// development) and ssl.client.auth=none authenticate no peer at all, and every claim stands there.

import { X509Certificate } from 'node:crypto';
import type { SecureContextOptions } from 'node:tls';
import { type Clock, monotonicClock } from '@gregor/ground';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from '../logging.js';

/**
 * Minimum time between two log lines about refused claims on one server: a misconfigured node
 * retries (Raft several times a second), so the first refusal is logged at once and later ones at
 * most this often, with how many were not logged.
 */
export const peerClaimRefusalLogIntervalMs = 10_000;

/** The request field that names the calling node, per gRPC method path that has one. */
export const claimedNodeIdFields: ReadonlyMap<string, string> = new Map([
  ['/gregor.raft.RaftQuorum/Deliver', 'from'],
  ['/gregor.controller.Controller/RegisterBroker', 'brokerId'],
  ['/gregor.controller.Controller/BrokerHeartbeat', 'brokerId'],
  ['/gregor.controller.Controller/AlterPartition', 'brokerId'],
  ['/gregor.controller.Controller/AllocateProducerIds', 'brokerId'],
  ['/gregor.replication.ReplicaFetch/FetchStream', 'replicaId'],
]);

const nodeCommonName = /^node-(0|[1-9]\d{0,9})$/;

/** The subject of a peer certificate, as Node gives it (a repeated attribute is an array). */
export interface CertificateSubject {
  readonly CN?: string | readonly string[];
}

/** The node id a certificate's subject names (CN=node-<id>), or undefined if it names none. */
export function nodeIdNamedBy(subject: CertificateSubject | undefined): number | undefined {
  const commonName = subject?.CN;
  if (typeof commonName !== 'string') return undefined;
  const match = nodeCommonName.exec(commonName);
  if (match === null) return undefined;
  const id = Number(match[1]);
  return id <= 2 ** 31 - 1 ? id : undefined;
}

export type PeerClaimVerdict =
  | { readonly kind: 'unchecked' }
  | { readonly kind: 'confirmed' }
  | { readonly kind: 'refused'; readonly reason: string };

/**
 * Whether a peer whose certificate has `subject` (undefined: it presented none) may claim to be
 * node `claimedNodeId`.
 */
export function checkPeerClaim(
  subject: CertificateSubject | undefined,
  claimedNodeId: unknown,
): PeerClaimVerdict {
  if (subject === undefined) return { kind: 'unchecked' };
  const named = nodeIdNamedBy(subject);
  const commonName = JSON.stringify(subject.CN ?? null);
  if (named === undefined) {
    return {
      kind: 'refused',
      reason: `the peer certificate (CN ${commonName}) names no node (CN=node-<id>), and the call claims node ${String(claimedNodeId)}`,
    };
  }
  if (named !== claimedNodeId) {
    return {
      kind: 'refused',
      reason: `the peer certificate names node ${named} (CN=node-${named}), and the call claims node ${String(claimedNodeId)}`,
    };
  }
  return { kind: 'confirmed' };
}

/**
 * The interceptor of the internal gRPC server: every message of a method in claimedNodeIdFields is
 * checked against the peer certificate; a false claim ends the call with PERMISSION_DENIED before
 * any handler sees it, and is logged (see peerClaimRefusalLogIntervalMs).
 */
export function peerNodeIdentityInterceptor(
  listenerName: string,
  logger: Logger,
  clock: Clock = monotonicClock,
): grpc.ServerInterceptor {
  let lastLoggedMs = Number.NEGATIVE_INFINITY;
  let unlogged = 0;
  return (method, call) => {
    const field = claimedNodeIdFields.get(method.path);
    if (field === undefined) return new grpc.ServerInterceptingCall(call);
    let refused = false;
    // Read once per call: getPeerCertificate builds a new object each time, and a replica fetch
    // stream carries a message per fetch for the life of the follower.
    let peerSubject: { readonly subject: CertificateSubject | undefined } | undefined;
    const intercepting: grpc.ServerInterceptingCall = new grpc.ServerInterceptingCall(call, {
      start: (next) => {
        next(
          new grpc.ServerListenerBuilder()
            .withOnReceiveMessage((message: Record<string, unknown>, nextMessage) => {
              if (refused) return;
              peerSubject ??= { subject: call.getAuthContext().sslPeerCertificate?.subject };
              const subject = peerSubject.subject;
              const claimed = message[field];
              const verdict = checkPeerClaim(subject, claimed);
              if (verdict.kind !== 'refused') {
                nextMessage(message);
                return;
              }
              refused = true;
              const nowMs = clock.nowMs();
              if (nowMs - lastLoggedMs < peerClaimRefusalLogIntervalMs) {
                unlogged += 1;
              } else {
                logger.warn(
                  {
                    listener: listenerName,
                    remote: call.getPeer(),
                    rpc: method.path,
                    claimedNodeId: claimed,
                    reason: verdict.reason,
                    notLoggedSinceLastLine: unlogged,
                  },
                  'failed authentication: a peer claimed a node its certificate does not name',
                );
                lastLoggedMs = nowMs;
                unlogged = 0;
              }
              intercepting.sendStatus({ code: grpc.status.PERMISSION_DENIED, details: verdict.reason });
            })
            .build(),
        );
      },
    });
    return intercepting;
  };
}

/** The CN of an X.509 subject as Node prints it (`CN=node-1\nO=Gregor`), or undefined. */
function commonNameOf(subject: string): string | undefined {
  const names = subject
    .split('\n')
    .filter((part) => part.startsWith('CN='))
    .map((part) => part.slice(3));
  return names.length === 1 ? names[0] : undefined;
}

/**
 * What is wrong with this node's own keystore certificate for node `nodeId` (its peers would refuse
 * every call that names this node), or undefined. A PKCS12 keystore is not read here: undefined.
 */
export function ownCertificateProblem(
  secureContext: SecureContextOptions,
  nodeId: number,
): string | undefined {
  const pem = secureContext.cert;
  if (typeof pem !== 'string' || pem === '') return undefined;
  const leaf = new X509Certificate(pem);
  const commonName = commonNameOf(leaf.subject);
  if (nodeIdNamedBy(commonName === undefined ? {} : { CN: commonName }) === nodeId) return undefined;
  return `this node's certificate has CN ${JSON.stringify(commonName ?? null)}, not node-${nodeId}: its peers refuse its Raft, controller and replica fetch calls (a node's certificate must name it, CN=node-<node.id>)`;
}

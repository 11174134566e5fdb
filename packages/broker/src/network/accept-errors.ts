// A listening socket that cannot accept (EMFILE/ENFILE: no descriptor left) emits 'error'; with no
// listener, Node throws it and the process dies. libuv has already dropped the pending connections
// (it keeps a spare descriptor for that), so the right answer is to log and keep listening: the
// clients retry, and new connections are accepted as soon as descriptors are free again.
//
// One line per streak: the first failure is logged at once, later ones at most every
// `acceptErrorLogIntervalMs` with how many were not logged.

import type { Server as NetServer, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from '../logging.js';

/** Minimum time between two log lines about failed accepts on one listener. */
export const acceptErrorLogIntervalMs = 10_000;

/** Keeps `server` alive through accept errors, logging them (at most one line per interval). */
export function logAcceptErrors(server: NetServer, listenerName: string, logger: Logger): void {
  let lastLoggedMs = Number.NEGATIVE_INFINITY;
  let unlogged = 0;
  server.on('error', (error: NodeJS.ErrnoException) => {
    const nowMs = Date.now();
    if (nowMs - lastLoggedMs < acceptErrorLogIntervalMs) {
      unlogged += 1;
      return;
    }
    logger.error(
      { listener: listenerName, err: error, code: error.code, notLoggedSinceLastLine: unlogged },
      error.code === 'EMFILE' || error.code === 'ENFILE'
        ? 'cannot accept connections: no file descriptor left; still listening'
        : 'cannot accept a connection; still listening',
    );
    lastLoggedMs = nowMs;
    unlogged = 0;
  });
}

/**
 * The same for the HTTP/2 servers behind a bound grpc-js Server. grpc-js only listens for 'error'
 * while binding, and keeps its servers in the private `http2Servers` map (grpc-js 1.x); if that
 * shape ever changes, this returns false and the caller says so at start-up.
 */
export function logGrpcAcceptErrors(server: grpc.Server, listenerName: string, logger: Logger): boolean {
  const servers = boundHttp2Servers(server);
  for (const candidate of servers) logAcceptErrors(candidate, listenerName, logger);
  return servers.length > 0;
}

/**
 * Logs every TLS handshake a bound grpc-js Server refuses (a peer without a certificate where one
 * is required, one the truststore does not vouch for, no common TLS version) at warn with the
 * peer's address: grpc-js drops them silently. A peer that hangs up mid-handshake without being
 * refused (a channel closed while connecting) is logged at debug. False when its servers cannot be
 * reached (see above).
 */
export function logGrpcTlsHandshakeFailures(
  server: grpc.Server,
  listenerName: string,
  logger: Logger,
): boolean {
  const servers = boundHttp2Servers(server);
  for (const candidate of servers) {
    // A refused handshake has closed the socket by the time it is reported, and a closed socket no
    // longer knows its peer: the address is noted as the TCP connection is accepted, and found again
    // through the TLS socket's `_parent` (the TCP socket it wraps; Node internals, hence 'unknown').
    const peers = new WeakMap<Socket, string>();
    candidate.on('connection', (socket: Socket) => {
      peers.set(socket, `${socket.remoteAddress}:${socket.remotePort}`);
    });
    candidate.on('tlsClientError', (error: NodeJS.ErrnoException, socket: TLSSocket) => {
      const tcp = (socket as TLSSocket & { _parent?: Socket })._parent;
      const remote = (tcp === undefined ? undefined : peers.get(tcp)) ?? 'unknown';
      // Node checks a client certificate once OpenSSL's handshake is done and, refusing it, closes
      // the socket: the event then only says "socket hang up", and the verdict is authorizationError.
      const refusedCertificate = socket.authorizationError ?? undefined;
      if (refusedCertificate === undefined && error.code === 'ECONNRESET') {
        logger.debug({ listener: listenerName, remote }, 'a peer hung up during the TLS handshake');
        return;
      }
      logger.warn(
        {
          listener: listenerName,
          remote,
          reason:
            refusedCertificate === undefined
              ? error.message.trim()
              : `client certificate refused: ${String(refusedCertificate)}`,
        },
        'failed authentication: TLS handshake with a peer failed',
      );
    });
  }
  return servers.length > 0;
}

/** The HTTP/2 servers behind a bound grpc-js Server (its private `http2Servers` map). */
function boundHttp2Servers(server: grpc.Server): NetServer[] {
  const servers = (server as unknown as { http2Servers?: unknown }).http2Servers;
  if (!(servers instanceof Map)) return [];
  return [...servers.keys()].filter(
    (candidate): candidate is NetServer => typeof (candidate as NetServer | undefined)?.on === 'function',
  );
}

// The Kafka listeners: one TCP server per `listeners` entry. An empty host binds every interface,
// IPv4 and IPv6 (dual-stack '::'), so `localhost` works whichever address a client resolves first.
// Every connection of every listener shares one request memory pool (queued.max.request.bytes).
//
// SSL and SASL_SSL listeners are TLS servers: a connection is served once its handshake completes.
// With ssl.client.auth=required a client without a certificate the truststore vouches for fails
// the handshake; with `requested` a client may present none, but one it presents must be valid.
// On an SSL listener the certificate's subject, through ssl.principal.mapping.rules, is the
// principal (User:ANONYMOUS without one); a subject no rule maps is refused, as Kafka refuses it.
// Every refusal is logged with the listener and the client's address.
//
// Connection limits (quotas/connection-quotas.ts, as Kafka's acceptor applies them): a listener
// serves its new connections one at a time in arrival order. Over max.connection.creation.rate (or
// the listener's own) it serves nothing for the throttle time, and at max.connections (or the
// listener's own) nothing until a connection closes: the connections wait, unread, in a queue of at
// most socket.listen.backlog.size (past it they are closed, logged). A connection over its IP's
// connection_creation_rate is never served and is closed after the throttle time; one past
// max.connections.per.ip is closed at once. A TLS connection is checked once its handshake is done.

import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket, type Server as TlsServer } from 'node:tls';
import type { Clock, TimerHandle, TimerScheduler } from '@gregor/ground';
import type { SecurityProtocol } from '../config/broker-config.js';
import type { ListenerTls } from '../config/listener-tls.js';
import type { Logger } from '../logging.js';
import { type BrokerMetrics, noBrokerMetrics } from '../metrics/broker-metrics.js';
import { type ConnectionQuotas, canonicalIp } from '../quotas/connection-quotas.js';
import { ConnectionSession } from '../security/connection-session.js';
import { anonymousPrincipal, type KafkaPrincipal, userPrincipal } from '../security/kafka-principal.js';
import { rfc2253Name } from '../security/ssl-principal-mapper.js';
import { logAcceptErrors } from './accept-errors.js';
import { Connection, type FrameHandler } from './connection.js';
import { RequestMemoryPool } from './request-memory-pool.js';
import {
  applyListenerReceiveBufferSize,
  applySocketBufferSizes,
  checkSocketBufferSizesSupported,
  type SocketBufferSizes,
} from './socket-buffers.js';
import { TlsFileReloader } from './tls-file-reloader.js';

export interface ListenerAddress {
  readonly name: string;
  readonly host: string;
  readonly port: number;
}

export interface ListenerSecurity {
  readonly protocol: SecurityProtocol;
  /** Set exactly for SSL and SASL_SSL listeners. */
  readonly tls?: ListenerTls;
}

/** Open client connections per listener; past this, new ones are closed at once. */
export const connectionsPerListenerMax = 10_000;
/** Connections over their IP's creation rate held until their throttle ends; past it, closed at once. */
export const throttledConnectionsMax = 10_000;
/** A TLS client that has not completed its handshake in this time is disconnected. */
export const tlsHandshakeTimeoutMs = 10_000;

export interface SocketServerLimits extends SocketBufferSizes {
  /** socket.request.max.bytes */
  readonly frameMaxBytes: number;
  /** queued.max.request.bytes (-1: unbounded) */
  readonly requestMemoryBytes: number;
  /** socket.listen.backlog.size */
  readonly listenBacklog: number;
  /** sasl.server.max.receive.size: largest frame a SASL connection may send before it authenticates. */
  readonly saslServerMaxReceiveBytes: number;
}

/** How the socket server applies the connection limits; without it, none apply. */
export interface ConnectionAdmission {
  readonly quotas: ConnectionQuotas;
  readonly clock: Clock;
  readonly timers: TimerScheduler;
}

interface PendingConnection {
  readonly socket: Socket;
  readonly serve: () => void;
  /** When the listener may serve it: set once it has been counted in the creation rates. */
  readyAtMs?: number;
}

interface ListenerAcceptor {
  readonly queue: PendingConnection[];
  /** Pending while the listener waits out a creation-rate throttle. */
  timer?: TimerHandle | undefined;
}

const ignoreSocketError = () => {};

export class SocketServer {
  private readonly servers: Server[] = [];
  private readonly acceptors = new Map<string, ListenerAcceptor>();
  /** Connections over their IP's rate, closed when their timer fires. */
  private readonly throttledSockets = new Map<Socket, TimerHandle>();
  private readonly tlsReloaders: TlsFileReloader[] = [];
  private readonly connections = new Set<Connection>();
  private nextConnectionId = 1;
  readonly requestMemory: RequestMemoryPool;

  constructor(
    private readonly handler: FrameHandler,
    private readonly limits: SocketServerLimits,
    private readonly logger: Logger,
    private readonly admission?: ConnectionAdmission,
    /** Kafka's socket-server-metrics: connections and authentications per listener. */
    private readonly metrics: Pick<
      BrokerMetrics,
      'listenerStarted' | 'connectionOpened' | 'connectionClosed' | 'authenticationCompleted'
    > = noBrokerMetrics,
  ) {
    checkSocketBufferSizesSupported(limits);
    this.requestMemory = new RequestMemoryPool(limits.requestMemoryBytes);
  }

  /** Starts every listener; resolves with the bound ports (useful when a port is 0). */
  async listen(
    listeners: readonly ListenerAddress[],
    securityOf: (listenerName: string) => ListenerSecurity = () => ({ protocol: 'PLAINTEXT' }),
  ): Promise<ListenerAddress[]> {
    const bound: ListenerAddress[] = [];
    for (const listener of listeners) {
      const security = securityOf(listener.name);
      const tls = security.tls;
      const accept = (socket: Socket): boolean => {
        if (this.connections.size >= connectionsPerListenerMax * listeners.length) {
          socket.destroy();
          return false;
        }
        try {
          applySocketBufferSizes(socket, this.limits);
        } catch (error) {
          // The peer may already have gone; nothing to serve.
          this.logger.warn({ err: error, listener: listener.name }, 'cannot set socket buffer sizes');
          socket.destroy();
          return false;
        }
        // Counted from the accept, as Kafka's Selector registers a channel before its handshake.
        this.metrics.connectionOpened(listener.name);
        socket.once('close', () => this.metrics.connectionClosed(listener.name));
        return true;
      };
      const serve = (socket: Socket, transportPrincipal: KafkaPrincipal) => {
        // PLAINTEXT and SSL connections are authenticated once served (Kafka counts their
        // authenticator's completion too); SASL ones when SaslAuthenticate says so.
        if (security.protocol === 'PLAINTEXT' || security.protocol === 'SSL') {
          this.metrics.authenticationCompleted(listener.name, 'succeeded', false);
        }
        const connection: Connection = new Connection(
          socket,
          {
            connectionId: this.nextConnectionId++,
            remoteAddress: `${socket.remoteAddress}:${socket.remotePort}`,
            listenerName: listener.name,
            session: new ConnectionSession(security.protocol, transportPrincipal),
          },
          this.handler,
          {
            // Bad input (a malformed frame, an unknown API) and a request refused without an
            // answer (a failed acks=0 Produce) both end here: the reason says which.
            onProtocolError: (context, reason) =>
              this.logger.warn(
                { listener: listener.name, remote: context.remoteAddress, reason },
                'closed connection after refusing a request',
              ),
            onClosedAfterResponse: (context, reason) =>
              this.logger.info(
                { listener: listener.name, remote: context.remoteAddress, reason },
                'closed connection after its response',
              ),
            onClose: () => this.connections.delete(connection),
          },
          {
            frameMaxBytes: this.limits.frameMaxBytes,
            requestMemory: this.requestMemory,
            unauthenticatedFrameMaxBytes: this.limits.saslServerMaxReceiveBytes,
          },
        );
        this.connections.add(connection);
      };
      let server: Server;
      if (tls === undefined) {
        server = createServer({ noDelay: true }, (socket) => {
          if (accept(socket)) this.admit(listener.name, socket, () => serve(socket, anonymousPrincipal));
        });
      } else {
        server = createTlsServer({
          ...tls.secureContext,
          requestCert: tls.clientAuth !== 'none',
          // Checked once the handshake completes (tlsPrincipal), where the reason can be logged:
          // Node's own refusal closes the socket without saying why.
          rejectUnauthorized: false,
          handshakeTimeout: tlsHandshakeTimeoutMs,
        });
        server.on('connection', (socket: Socket) => {
          socket.setNoDelay(true);
          accept(socket);
        });
        server.on('secureConnection', (socket: TLSSocket) => {
          const principal = this.tlsPrincipal(socket, listener.name, tls, security.protocol);
          if (principal === undefined) {
            this.metrics.authenticationCompleted(listener.name, 'failed', false);
            socket.destroy();
          } else this.admit(listener.name, socket, () => serve(socket, principal));
        });
        const reloader = new TlsFileReloader(
          (fresh) => (server as TlsServer).setSecureContext({ ...fresh.secureContext }),
          listener.name,
          tls,
          this.logger,
        );
        reloader.start();
        this.tlsReloaders.push(reloader);
        server.on('tlsClientError', (error: Error, socket: TLSSocket) => {
          this.metrics.authenticationCompleted(listener.name, 'failed', false);
          this.logger.warn(
            {
              listener: listener.name,
              remote: `${socket.remoteAddress}:${socket.remotePort}`,
              reason: error.message.trim(),
            },
            'failed authentication: TLS handshake failed',
          );
        });
      }
      const host = listener.host === '' ? '::' : listener.host;
      await new Promise<void>((resolve, reject) => {
        const onError = (error: Error) => {
          server.off('listening', onListening);
          reject(
            new Error(
              `cannot listen on ${listener.name}://${listener.host}:${listener.port}: ${error.message}`,
            ),
          );
        };
        const onListening = () => {
          server.off('error', onError);
          resolve();
        };
        server.once('error', onError);
        server.once('listening', onListening);
        server.listen({ port: listener.port, host, ipv6Only: false, backlog: this.limits.listenBacklog });
      });
      // From now on an 'error' is a failed accept (EMFILE): logged, never fatal.
      logAcceptErrors(server, listener.name, this.logger);
      applyListenerReceiveBufferSize(server, this.limits);
      this.servers.push(server);
      this.metrics.listenerStarted(listener.name);
      const port = (server.address() as AddressInfo).port;
      bound.push({ ...listener, port });
      this.logger.info(
        { listener: listener.name, host: listener.host || '*', port },
        'listening for Kafka clients',
      );
    }
    return bound;
  }

  /**
   * The principal of a client whose TLS handshake completed, or undefined (logged) when it may not
   * be served: no certificate where one is required, a certificate the truststore does not vouch
   * for (untrusted issuer, expired), or a subject no ssl.principal.mapping.rules rule maps. On SASL_SSL the
   * certificate only proves the channel; SASL names the principal.
   */
  private tlsPrincipal(
    socket: TLSSocket,
    listenerName: string,
    tls: ListenerTls,
    protocol: SecurityProtocol,
  ): KafkaPrincipal | undefined {
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    if (tls.clientAuth === 'none') return anonymousPrincipal;
    const certificate = socket.getPeerX509Certificate();
    if (certificate === undefined) {
      if (tls.clientAuth === 'requested') return anonymousPrincipal;
      this.logger.warn(
        { listener: listenerName, remote, reason: 'no client certificate (ssl.client.auth=required)' },
        'failed authentication: client certificate refused',
      );
      return undefined;
    }
    const subject = rfc2253Name(certificate.subject);
    if (!socket.authorized) {
      this.logger.warn(
        { listener: listenerName, remote, subject, reason: String(socket.authorizationError) },
        'failed authentication: client certificate refused',
      );
      return undefined;
    }
    if (protocol === 'SASL_SSL') return anonymousPrincipal;
    const mapped = tls.principalMapper.map(subject);
    if (!mapped.ok) {
      this.logger.warn(
        { listener: listenerName, remote, subject, reason: mapped.reason },
        'failed authentication',
      );
      return undefined;
    }
    return userPrincipal(mapped.name);
  }

  /** Queues a new connection behind the listener's others, to be served once the limits allow. */
  private admit(listenerName: string, socket: Socket, serve: () => void): void {
    if (this.admission === undefined) {
      serve();
      return;
    }
    let acceptor = this.acceptors.get(listenerName);
    if (acceptor === undefined) {
      acceptor = { queue: [] };
      this.acceptors.set(listenerName, acceptor);
    }
    if (acceptor.queue.length >= this.limits.listenBacklog) {
      this.logger.warn(
        {
          listener: listenerName,
          remote: `${socket.remoteAddress}:${socket.remotePort}`,
          waiting: acceptor.queue.length,
        },
        'closed connection: too many connections waiting for the connection limits (socket.listen.backlog.size)',
      );
      socket.destroy();
      return;
    }
    // Nothing reads the socket yet; a reset meanwhile must not be an unhandled error.
    socket.on('error', ignoreSocketError);
    acceptor.queue.push({ socket, serve });
    this.drain(listenerName);
  }

  /** Serves the listener's waiting connections in order, as far as the limits allow now. */
  private drain(listenerName: string): void {
    const acceptor = this.acceptors.get(listenerName);
    const admission = this.admission;
    if (acceptor === undefined || admission === undefined) return;
    const { quotas, clock, timers } = admission;
    while (acceptor.queue.length > 0 && acceptor.timer === undefined) {
      const head = acceptor.queue[0]!;
      const remoteAddress = head.socket.remoteAddress;
      if (head.socket.destroyed || remoteAddress === undefined) {
        acceptor.queue.shift();
        continue;
      }
      const nowMs = clock.nowMs();
      head.readyAtMs ??= nowMs + quotas.recordAccept(listenerName, nowMs);
      if (head.readyAtMs > nowMs) {
        acceptor.timer = timers.schedule(() => {
          acceptor.timer = undefined;
          this.drain(listenerName);
        }, head.readyAtMs - nowMs);
        return;
      }
      // At max.connections: drained again when a connection closes.
      if (!quotas.slotAvailable(listenerName)) return;
      acceptor.queue.shift();
      const ip = canonicalIp(remoteAddress);
      const remote = `${remoteAddress}:${head.socket.remotePort}`;
      const outcome = quotas.admit(listenerName, ip, nowMs);
      if (outcome.kind === 'refused') {
        this.logger.warn(
          { listener: listenerName, remote, limit: outcome.limit },
          `rejected connection from ${ip}: the address already has the configured maximum of ${outcome.limit} connections (max.connections.per.ip)`,
        );
        head.socket.destroy();
      } else if (outcome.kind === 'throttled') {
        this.logger.info(
          { listener: listenerName, remote, throttleTimeMs: outcome.throttleTimeMs, rate: outcome.rate },
          `delaying closing of connection from ${ip} for ${outcome.throttleTimeMs} ms: over its connection_creation_rate`,
        );
        const socket = head.socket;
        if (this.throttledSockets.size >= throttledConnectionsMax) {
          socket.destroy();
          continue;
        }
        const close = timers.schedule(() => socket.destroy(), outcome.throttleTimeMs);
        this.throttledSockets.set(socket, close);
        socket.once('close', () => {
          close.cancel();
          this.throttledSockets.delete(socket);
        });
      } else {
        head.socket.off('error', ignoreSocketError);
        head.socket.once('close', () => {
          quotas.closed(listenerName, ip);
          for (const name of this.acceptors.keys()) this.drain(name);
        });
        head.serve();
      }
    }
  }

  /** Stops accepting, and closes every open connection. */
  async close(): Promise<void> {
    for (const acceptor of this.acceptors.values()) {
      acceptor.timer?.cancel();
      acceptor.timer = undefined;
      for (const pending of acceptor.queue.splice(0)) pending.socket.destroy();
    }
    for (const [socket, timer] of this.throttledSockets) {
      timer.cancel();
      socket.destroy();
    }
    this.throttledSockets.clear();
    for (const reloader of this.tlsReloaders) reloader.stop();
    this.tlsReloaders.length = 0;
    const closing = this.servers.map(
      (server) => new Promise<void>((resolve) => server.close(() => resolve())),
    );
    for (const connection of this.connections) connection.close();
    this.connections.clear();
    await Promise.all(closing);
    this.servers.length = 0;
  }
}

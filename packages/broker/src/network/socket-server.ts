// The Kafka listeners: one TCP server per `listeners` entry. An empty host binds every interface,
// IPv4 and IPv6 (dual-stack '::'), so `localhost` works whichever address a client resolves first.
// Every connection of every listener shares one request memory pool (queued.max.request.bytes).

import { type AddressInfo, createServer, type Server } from 'node:net';
import type { Logger } from '../logging.js';
import { logAcceptErrors } from './accept-errors.js';
import { Connection, type FrameHandler } from './connection.js';
import { RequestMemoryPool } from './request-memory-pool.js';
import {
  applyListenerReceiveBufferSize,
  applySocketBufferSizes,
  checkSocketBufferSizesSupported,
  type SocketBufferSizes,
} from './socket-buffers.js';

export interface ListenerAddress {
  readonly name: string;
  readonly host: string;
  readonly port: number;
}

/** Open client connections per listener; past this, new ones are closed at once. */
export const connectionsPerListenerMax = 10_000;

export interface SocketServerLimits extends SocketBufferSizes {
  /** socket.request.max.bytes */
  readonly frameMaxBytes: number;
  /** queued.max.request.bytes (-1: unbounded) */
  readonly requestMemoryBytes: number;
  /** socket.listen.backlog.size */
  readonly listenBacklog: number;
}

export class SocketServer {
  private readonly servers: Server[] = [];
  private readonly connections = new Set<Connection>();
  private nextConnectionId = 1;
  readonly requestMemory: RequestMemoryPool;

  constructor(
    private readonly handler: FrameHandler,
    private readonly limits: SocketServerLimits,
    private readonly logger: Logger,
  ) {
    checkSocketBufferSizesSupported(limits);
    this.requestMemory = new RequestMemoryPool(limits.requestMemoryBytes);
  }

  /** Starts every listener; resolves with the bound ports (useful when a port is 0). */
  async listen(listeners: readonly ListenerAddress[]): Promise<ListenerAddress[]> {
    const bound: ListenerAddress[] = [];
    for (const listener of listeners) {
      const server = createServer({ noDelay: true }, (socket) => {
        if (this.connections.size >= connectionsPerListenerMax * listeners.length) {
          socket.destroy();
          return;
        }
        try {
          applySocketBufferSizes(socket, this.limits);
        } catch (error) {
          // The peer may already have gone; nothing to serve.
          this.logger.warn({ err: error, listener: listener.name }, 'cannot set socket buffer sizes');
          socket.destroy();
          return;
        }
        const connection: Connection = new Connection(
          socket,
          {
            connectionId: this.nextConnectionId++,
            remoteAddress: `${socket.remoteAddress}:${socket.remotePort}`,
            listenerName: listener.name,
          },
          this.handler,
          {
            onProtocolError: (context, reason) =>
              this.logger.warn(
                { listener: listener.name, remote: context.remoteAddress, reason },
                'closed connection: bad request',
              ),
            onClose: () => this.connections.delete(connection),
          },
          { frameMaxBytes: this.limits.frameMaxBytes, requestMemory: this.requestMemory },
        );
        this.connections.add(connection);
      });
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
      const port = (server.address() as AddressInfo).port;
      bound.push({ ...listener, port });
      this.logger.info(
        { listener: listener.name, host: listener.host || '*', port },
        'listening for Kafka clients',
      );
    }
    return bound;
  }

  /** Stops accepting, and closes every open connection. */
  async close(): Promise<void> {
    const closing = this.servers.map(
      (server) => new Promise<void>((resolve) => server.close(() => resolve())),
    );
    for (const connection of this.connections) connection.close();
    this.connections.clear();
    await Promise.all(closing);
    this.servers.length = 0;
  }
}

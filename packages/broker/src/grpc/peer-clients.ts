import type * as grpc from '@grpc/grpc-js';
import { internalChannelOptions } from './protos.js';

/**
 * One client of a gRPC service per peer node. A node restarted on another port (listeners may
 * bind port 0) gets a new client at its new address and the old one is closed, so channels never
 * pile up for addresses no one listens on.
 */
export class PeerClients {
  private readonly clients = new Map<number, { address: string; client: grpc.Client }>();
  private closed = false;

  constructor(
    private readonly Client: grpc.ServiceClientConstructor,
    private readonly credentials: grpc.ChannelCredentials,
    /** Named in the error a call after close() gets. */
    private readonly what: string,
  ) {}

  /** The unary method `name` of node `nodeId`'s client at `address`, bound to it. */
  method<Method>(nodeId: number, address: string, name: string): Method {
    if (this.closed) throw new Error(`the ${this.what} clients are closed`);
    let entry = this.clients.get(nodeId);
    if (entry !== undefined && entry.address !== address) {
      entry.client.close();
      entry = undefined;
    }
    if (entry === undefined) {
      entry = { address, client: new this.Client(address, this.credentials, internalChannelOptions) };
      this.clients.set(nodeId, entry);
    }
    const client = entry.client;
    return (client as unknown as Record<string, (...args: unknown[]) => unknown>)[name]!.bind(
      client,
    ) as Method;
  }

  close(): void {
    this.closed = true;
    for (const { client } of this.clients.values()) client.close();
    this.clients.clear();
  }
}

import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../logging.js';
import { registerLeaderHighWatermarksService } from '../replication/leader-high-watermarks-grpc.js';
import { PeerClients } from './peer-clients.js';
import { internalServerOptions, serviceClient } from './protos.js';

const servers: grpc.Server[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) server.forceShutdown();
});

/** A LeaderHighWatermarks service (serving nothing yet) on a port of its own. */
async function peer(): Promise<string> {
  const server = new grpc.Server(internalServerOptions);
  registerLeaderHighWatermarksService(
    server,
    'c',
    () => undefined,
    createLogger({ nodeId: 1, level: 'silent' }),
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error === null ? resolve(bound) : reject(error),
    ),
  );
  servers.push(server);
  return `127.0.0.1:${port}`;
}

type List = (
  request: { clusterId: string; partitions: never[] },
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: (error: grpc.ServiceError | null, response: { errorCode: number }) => void,
) => void;

function call(method: List): Promise<number> {
  return new Promise((resolve, reject) => {
    try {
      method(
        { clusterId: 'c', partitions: [] },
        new grpc.Metadata(),
        { deadline: Date.now() + 5_000 },
        (error, response) => (error === null ? resolve(response.errorCode) : reject(error)),
      );
    } catch (error) {
      reject(error);
    }
  });
}

describe('PeerClients', () => {
  it('keeps one client per node, and closes it when the node comes back at another address', async () => {
    const Client = serviceClient('replication.proto', 'gregor.replication.LeaderHighWatermarks');
    const clients = new PeerClients(Client, grpc.credentials.createInsecure(), 'test');
    const [first, second] = [await peer(), await peer()];
    const before = clients.method<List>(1, first, 'ListHighWatermarks');
    await expect(call(before)).resolves.toBeGreaterThan(0);
    await expect(call(clients.method<List>(1, first, 'ListHighWatermarks'))).resolves.toBeGreaterThan(0);

    const after = clients.method<List>(1, second, 'ListHighWatermarks');
    await expect(call(after)).resolves.toBeGreaterThan(0);
    // The client at the old address is closed, not left open beside the new one.
    await expect(call(before)).rejects.toThrow(/shut down|closed/i);

    clients.close();
    expect(() => clients.method<List>(1, second, 'ListHighWatermarks')).toThrow(
      'the test clients are closed',
    );
  });
});

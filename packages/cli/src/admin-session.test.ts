import { type AddressInfo, createServer, type Socket } from 'node:net';
import { waitFor } from '@gregor/ground/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { withAdminSession } from './admin-session.js';

const sink = { write: () => true };

describe("withAdminSession's connections", () => {
  const sockets: Socket[] = [];
  const server = createServer((socket) => sockets.push(socket));
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.destroy();
    server.close();
  });

  it('reuses an open connection, and opens another once the broker closed it (as after a Metadata answer without its lease)', async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const code = await withAdminSession(
      { bootstrap: [{ host: '127.0.0.1', port }], timeoutMs: 2_000, clientId: 'test', out: sink, err: sink },
      async ({ connect }) => {
        // The bootstrap server's connection is the pool's too.
        const first = await connect('127.0.0.1', port);
        expect(await connect('127.0.0.1', port)).toBe(first);
        await waitFor('the connection accepted', async () => (sockets.length === 1 ? true : undefined));
        for (const socket of sockets) socket.destroy();
        await waitFor('the pooled connection closed', async () => (first.isClosed ? true : undefined));
        const second = await connect('127.0.0.1', port);
        expect(second).not.toBe(first);
        expect(second.isClosed).toBe(false);
        return 0;
      },
    );
    expect(code).toBe(0);
    expect(sockets.length).toBe(2);
  });
});

import { once } from 'node:events';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  applyListenerReceiveBufferSize,
  applySocketBufferSizes,
  socketBufferOsDefault,
  socketBufferSizesOf,
} from './socket-buffers.js';

async function acceptedPair(onListening: (server: ReturnType<typeof createServer>) => void) {
  const accepted: Socket[] = [];
  const server = createServer((socket) => accepted.push(socket));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  onListening(server);
  const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
  await once(client, 'connect');
  while (accepted.length === 0) await new Promise((resolve) => setImmediate(resolve));
  return { server, client, socket: accepted[0]! };
}

describe.runIf(process.platform === 'linux')('socket buffer sizes', () => {
  it('sets SO_SNDBUF and SO_RCVBUF as Kafka does (Linux reports twice the size)', async () => {
    const sizes = { sendBufferBytes: 65536, receiveBufferBytes: 32768 };
    const { server, client, socket } = await acceptedPair((listening) =>
      applyListenerReceiveBufferSize(listening, sizes),
    );
    applySocketBufferSizes(socket, sizes);
    expect(socketBufferSizesOf(socket)).toEqual({ sendBufferBytes: 131072, receiveBufferBytes: 65536 });
    client.destroy();
    socket.destroy();
    server.close();
  });

  it('leaves the OS default alone for -1', async () => {
    const { server, client, socket } = await acceptedPair(() => {});
    const before = socketBufferSizesOf(socket);
    applySocketBufferSizes(socket, {
      sendBufferBytes: socketBufferOsDefault,
      receiveBufferBytes: socketBufferOsDefault,
    });
    expect(socketBufferSizesOf(socket)).toEqual(before);
    client.destroy();
    socket.destroy();
    server.close();
  });
});

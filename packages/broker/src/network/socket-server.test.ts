// The socket server's accept queue under the connection limits: a listener over its creation rate or
// at max.connections serves nothing more until the throttle ends or a connection closes; time is a
// ManualClock with ManualTimers, so "until" is when the test moves time.

import { connect, type Socket } from 'node:net';
import { ManualClock, ManualTimers } from '@gregor/ground';
import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type ConnectionLimits, ConnectionQuotas, noConnectionLimits } from '../quotas/connection-quotas.js';
import { SocketServer } from './socket-server.js';

const servers: SocketServer[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  for (const server of servers.splice(0)) await server.close();
});

function frame(payload: string): Buffer {
  const size = Buffer.alloc(4);
  size.writeInt32BE(payload.length, 0);
  return Buffer.concat([size, Buffer.from(payload)]);
}

async function start(
  limits: Partial<ConnectionLimits>,
  ipRate: (ip: string) => number | undefined = () => undefined,
) {
  const clock = new ManualClock(0);
  const timers = new ManualTimers(clock);
  const quotas = new ConnectionQuotas(
    { ...noConnectionLimits, ...limits },
    { samples: 2, windowMs: 1000 },
    ipRate,
  );
  const server = new SocketServer(
    (request) => ({ kind: 'respond', response: Buffer.from(`re:${request.toString()}`) }),
    {
      frameMaxBytes: 1024,
      requestMemoryBytes: 1 << 20,
      listenBacklog: 50,
      saslServerMaxReceiveBytes: 1024,
      sendBufferBytes: -1,
      receiveBufferBytes: -1,
    },
    pino({ level: 'silent' }),
    { quotas, clock, timers },
  );
  servers.push(server);
  const [bound] = await server.listen([{ name: 'PLAINTEXT', host: '127.0.0.1', port: 0 }]);
  return { port: bound!.port, timers, quotas };
}

/** A client that sends one request at once; `answered` turns true when its response arrives. */
function client(port: number) {
  const socket = connect(port, '127.0.0.1');
  sockets.push(socket);
  const state = { socket, answered: false, closed: false };
  socket.on('data', () => {
    state.answered = true;
  });
  socket.on('close', () => {
    state.closed = true;
  });
  socket.on('error', () => {});
  socket.write(frame('hello'));
  return state;
}

describe('SocketServer connection limits', () => {
  it('holds a connection past max.connections unread until another closes', async () => {
    const { port, quotas } = await start({ maxConnections: 1 });
    const first = client(port);
    await vi.waitFor(() => expect(first.answered).toBe(true));
    const second = client(port);
    // Accepted by the kernel, but not served: the listener waits for a slot.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(second.answered).toBe(false);
    expect(quotas.openConnections()).toBe(1);
    first.socket.destroy();
    await vi.waitFor(() => expect(second.answered).toBe(true));
  });

  it('over max.connection.creation.rate, serves the next connection only after the throttle', async () => {
    // 1 a second over a fresh window of 1 s: the second connection waits (2 - 1) / 1 x 1 s.
    const { port, timers } = await start({ maxConnectionCreationRate: 1 });
    const first = client(port);
    await vi.waitFor(() => expect(first.answered).toBe(true));
    const second = client(port);
    await vi.waitFor(() => expect(timers.pendingCount).toBe(1));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(second.answered).toBe(false);
    timers.advanceMs(999);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(second.answered).toBe(false);
    timers.advanceMs(1);
    await vi.waitFor(() => expect(second.answered).toBe(true));
    expect(second.closed).toBe(false);
  });

  it("never serves a connection over its IP's connection_creation_rate, and closes it after the throttle", async () => {
    // A rate of 0: every connection from the address is throttled for one window.
    const { port, timers, quotas } = await start({}, (ip) => (ip === '127.0.0.1' ? 0 : undefined));
    const throttled = client(port);
    await vi.waitFor(() => expect(timers.pendingCount).toBe(1));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(throttled).toMatchObject({ answered: false, closed: false });
    expect(quotas.openConnections()).toBe(0);
    timers.advanceMs(1000);
    await vi.waitFor(() => expect(throttled.closed).toBe(true));
    expect(throttled.answered).toBe(false);
  });
});

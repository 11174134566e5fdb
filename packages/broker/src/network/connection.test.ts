import { once } from 'node:events';
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Connection, type FrameHandler } from './connection.js';

function frame(payload: string): Buffer {
  const body = Buffer.from(payload);
  const size = Buffer.alloc(4);
  size.writeInt32BE(body.length, 0);
  return Buffer.concat([size, body]);
}

/** Calls `onFrame` with each frame the peer sends (as text). */
function onFrames(socket: Socket, onFrame: (frame: string) => void): void {
  let pending = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 4 && pending.length >= 4 + pending.readInt32BE(0)) {
      const size = pending.readInt32BE(0);
      onFrame(pending.subarray(4, 4 + size).toString());
      pending = pending.subarray(4 + size);
    }
  });
}

function readFrames(socket: Socket, count: number): Promise<string[]> {
  return new Promise((resolve) => {
    const frames: string[] = [];
    onFrames(socket, (frame) => {
      frames.push(frame);
      if (frames.length >= count) resolve(frames);
    });
  });
}

/** Every frame the peer sends until the connection closes. */
function readFramesUntilClose(socket: Socket): Promise<string[]> {
  return new Promise((resolve) => {
    const frames: string[] = [];
    onFrames(socket, (frame) => frames.push(frame));
    socket.on('close', () => resolve(frames));
  });
}

const servers: Server[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) server.close();
});

async function serve(handler: FrameHandler, errors: string[] = []): Promise<number> {
  let nextId = 0;
  const server = createServer((socket) => {
    new Connection(
      socket,
      { connectionId: nextId++, remoteAddress: String(socket.remoteAddress) },
      handler,
      { onProtocolError: (_context, reason) => errors.push(reason), onClose: () => {} },
      1024,
    );
  });
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

describe('Connection', () => {
  it('answers strictly in request order while handling requests concurrently', async () => {
    // Earlier requests take longer, so a naive implementation would answer in reverse.
    const port = await serve(async (request) => {
      const delayMs = 50 - Number(request.toString()) * 10;
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      return { kind: 'respond', response: Buffer.from(`re:${request.toString()}`) };
    });
    const client = connect(port, '127.0.0.1');
    const responses = readFrames(client, 5);
    client.write(Buffer.concat(['0', '1', '2', '3', '4'].map(frame)));
    expect(await responses).toEqual(['re:0', 're:1', 're:2', 're:3', 're:4']);
    client.destroy();
  });

  it('sends nothing for a request that expects no response and keeps the order of the rest', async () => {
    const port = await serve(async (request) =>
      request.toString() === 'silent'
        ? { kind: 'no-response' }
        : { kind: 'respond', response: Buffer.from(`re:${request.toString()}`) },
    );
    const client = connect(port, '127.0.0.1');
    const responses = readFrames(client, 2);
    client.write(Buffer.concat([frame('a'), frame('silent'), frame('b')]));
    expect(await responses).toEqual(['re:a', 're:b']);
    client.destroy();
  });

  it('closes only the connection that sent an oversized frame', async () => {
    const errors: string[] = [];
    const port = await serve(async (request) => ({ kind: 'respond', response: request }), errors);
    const bad = connect(port, '127.0.0.1');
    const good = connect(port, '127.0.0.1');
    await Promise.all([once(bad, 'connect'), once(good, 'connect')]);
    const huge = Buffer.alloc(4);
    huge.writeInt32BE(10_000, 0);
    bad.write(huge);
    await once(bad, 'close');
    expect(errors[0]).toMatch(/exceeds socket.request.max.bytes/);
    const echoed = readFrames(good, 1);
    good.write(frame('still here'));
    expect(await echoed).toEqual(['still here']);
    good.destroy();
  });

  it('answers the requests read before an oversized frame, then closes', async () => {
    const errors: string[] = [];
    // Slow answers: the bad size prefix is read long before the requests ahead of it are done.
    const port = await serve(async (request) => {
      await new Promise((resolve) => setTimeout(resolve, 30));
      return { kind: 'respond', response: Buffer.concat([Buffer.from('re:'), request]) };
    }, errors);
    const client = connect(port, '127.0.0.1');
    const responses = readFramesUntilClose(client);
    const huge = Buffer.alloc(4);
    huge.writeInt32BE(10_000, 0);
    client.write(Buffer.concat([frame('a'), frame('b'), huge, frame('never read')]));
    expect(await responses).toEqual(['re:a', 're:b']);
    expect(errors).toEqual([expect.stringMatching(/exceeds socket.request.max.bytes/)]);
  });
});

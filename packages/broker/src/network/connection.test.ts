import { EventEmitter, once } from 'node:events';
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';
import { type Clock, ManualClock, ManualTimers, type TimerScheduler } from '@gregor/ground';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Connection, type FrameHandler, type NetworkTimeRecorder } from './connection.js';
import { RequestMemoryPool } from './request-memory-pool.js';

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

async function serve(
  handler: FrameHandler,
  errors: string[] = [],
  requestMemory = new RequestMemoryPool(4096),
  timers?: TimerScheduler,
  closedAfterResponse: string[] = [],
): Promise<number> {
  let nextId = 0;
  const server = createServer((socket) => {
    new Connection(
      socket,
      { connectionId: nextId++, remoteAddress: String(socket.remoteAddress), listenerName: 'PLAINTEXT' },
      handler,
      {
        onProtocolError: (_context, reason) => errors.push(reason),
        onClosedAfterResponse: (_context, reason) => closedAfterResponse.push(reason),
        onClose: () => {},
      },
      { frameMaxBytes: 1024, requestMemory, ...(timers === undefined ? {} : { timers }) },
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

  it('closes after a response marked close-when-idle only if no later request is unanswered, and says so', async () => {
    let releaseSlow: () => void = () => {};
    const slowAnswered = new Promise<void>((resolve) => {
      releaseSlow = resolve;
    });
    const errors: string[] = [];
    const closedAfterResponse: string[] = [];
    const port = await serve(
      async (request) => {
        const text = request.toString();
        if (text === 'slow') await slowAnswered;
        return text.startsWith('leave')
          ? { kind: 'respond', response: Buffer.from(`re:${text}`), closeAfterWhenIdle: 'go elsewhere' }
          : { kind: 'respond', response: Buffer.from(`re:${text}`) };
      },
      errors,
      undefined,
      undefined,
      closedAfterResponse,
    );
    // Another request waits behind it: the connection stays open and answers it.
    const busy = connect(port, '127.0.0.1');
    const busyFrames = readFrames(busy, 3);
    busy.write(Buffer.concat([frame('leave-1'), frame('slow')]));
    await new Promise((resolve) => setTimeout(resolve, 20));
    releaseSlow();
    busy.write(frame('after'));
    expect(await busyFrames).toEqual(['re:leave-1', 're:slow', 're:after']);
    busy.destroy();
    expect(closedAfterResponse).toEqual([]);
    // Nothing else in flight: the response goes out, then the connection closes.
    const idle = connect(port, '127.0.0.1');
    const idleFrames = readFramesUntilClose(idle);
    idle.write(frame('leave-2'));
    expect(await idleFrames).toEqual(['re:leave-2']);
    // The close is the broker's own, with the handler's reason (a Metadata answer without the lease
    // closes a client's connection: its log says so), and no bad input.
    expect(closedAfterResponse).toEqual(['go elsewhere']);
    expect(errors).toEqual([]);
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

  it('holds back a frame that does not fit the request memory, serves others, and resumes when memory is freed', async () => {
    const memory = new RequestMemoryPool(1500);
    const port = await serve(async (request) => ({ kind: 'respond', response: request }), [], memory);
    const [slow, waiting, small] = [0, 1, 2].map(() => connect(port, '127.0.0.1'));
    await Promise.all([slow, waiting, small].map((socket) => once(socket!, 'connect')));

    // A slow client claims 1000 bytes and sends 10 of them: all 1000 are reserved at once.
    const claim = Buffer.alloc(4);
    claim.writeInt32BE(1000, 0);
    slow!.write(Buffer.concat([claim, Buffer.alloc(10)]));
    await vi.waitFor(() => expect(memory.reservedBytes).toBe(1000));

    // A complete 1000-byte frame does not fit the 500 left: its connection waits, unread.
    const waitingAnswer = readFrames(waiting!, 1);
    waiting!.write(frame('w'.repeat(1000)));
    await vi.waitFor(() => expect(memory.waitingCount).toBe(1));
    expect(memory.reservedBytes).toBe(1000);

    // Small requests of another client fit what is left and are served meanwhile.
    const smallAnswers = readFrames(small!, 3);
    small!.write(Buffer.concat(['a', 'b', 'c'].map(frame)));
    expect(await smallAnswers).toEqual(['a', 'b', 'c']);

    // The slow client goes away: its partial frame's reservation comes back, the waiter resumes.
    slow!.destroy();
    expect(await waitingAnswer).toEqual(['w'.repeat(1000)]);
    await vi.waitFor(() => expect(memory.reservedBytes).toBe(0));
    expect(memory.waitingCount).toBe(0);
    waiting!.destroy();
    small!.destroy();
  });

  it('keeps a request reserved until its handler settles, even after its client left', async () => {
    const memory = new RequestMemoryPool(4096);
    let finish: (() => void) | undefined;
    const handled = new Promise<void>((resolve) => {
      finish = resolve;
    });
    let started = false;
    const port = await serve(
      async () => {
        started = true;
        await handled;
        return { kind: 'respond', response: Buffer.from('late') };
      },
      [],
      memory,
    );
    const client = connect(port, '127.0.0.1');
    await once(client, 'connect');
    client.write(frame('x'.repeat(300)));
    await vi.waitFor(() => expect(started).toBe(true));
    client.destroy();
    await once(client, 'close');
    expect(memory.reservedBytes).toBe(300);
    finish!();
    await vi.waitFor(() => expect(memory.reservedBytes).toBe(0));
  });

  it('handles no frame read behind one the handler refused at once, and answers the ones before it', async () => {
    const errors: string[] = [];
    const handled: string[] = [];
    const memory = new RequestMemoryPool(4096);
    const port = await serve(
      (request) => {
        const text = request.toString();
        handled.push(text);
        if (text === 'bad') return { kind: 'close', reason: 'malformed request' };
        return new Promise((resolve) =>
          setTimeout(() => resolve({ kind: 'respond', response: Buffer.from(`re:${text}`) }), 20),
        );
      },
      errors,
      memory,
    );
    const client = connect(port, '127.0.0.1');
    const responses = readFramesUntilClose(client);
    // One write, so one read: every frame is decoded before any is answered.
    client.write(Buffer.concat([frame('a'), frame('bad'), frame('produce-after'), frame('more')]));
    expect(await responses).toEqual(['re:a']);
    expect(handled).toEqual(['a', 'bad']);
    expect(errors).toEqual(['malformed request']);
    await vi.waitFor(() => expect(memory.reservedBytes).toBe(0));
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

  it('stops reading for the throttle time after a throttled request, and answers at once (KIP-219)', async () => {
    const timers = new ManualTimers(new ManualClock(0));
    const handled: string[] = [];
    const port = await serve(
      async (request) => {
        handled.push(request.toString());
        return {
          kind: 'respond',
          response: Buffer.from(`re:${request.toString()}`),
          ...(request.toString() === 'heavy' ? { throttle: { timeMs: 1000, delayResponse: false } } : {}),
        };
      },
      [],
      undefined,
      timers,
    );
    const client = connect(port, '127.0.0.1');
    const frames: string[] = [];
    onFrames(client, (one) => frames.push(one));
    client.write(frame('heavy'));
    await vi.waitFor(() => expect(frames).toEqual(['re:heavy']));
    expect(timers.pendingCount).toBe(1);
    client.write(frame('next'));
    // Muted: the next request stays unread however long we wait, until the throttle ends.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(handled).toEqual(['heavy']);
    timers.advanceMs(999);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(handled).toEqual(['heavy']);
    timers.advanceMs(1);
    await vi.waitFor(() => expect(frames).toEqual(['re:heavy', 're:next']));
    client.destroy();
  });

  it('holds the response of an old-version throttled request for the throttle time, and what follows it', async () => {
    const timers = new ManualTimers(new ManualClock(0));
    const port = await serve(
      async (request) => ({
        kind: 'respond',
        response: Buffer.from(`re:${request.toString()}`),
        ...(request.toString() === 'old' ? { throttle: { timeMs: 500, delayResponse: true } } : {}),
      }),
      [],
      undefined,
      timers,
    );
    const client = connect(port, '127.0.0.1');
    const frames: string[] = [];
    onFrames(client, (one) => frames.push(one));
    client.write(Buffer.concat([frame('old'), frame('after')]));
    // The throttle has started once its timer is pending; its response and the next wait behind it.
    await vi.waitFor(() => expect(timers.pendingCount).toBe(1));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(frames).toEqual([]);
    timers.advanceMs(500);
    await vi.waitFor(() => expect(frames).toEqual(['re:old', 're:after']));
    client.destroy();
  });
  it('hands the requests of a client under a quota to the handler one at a time', async () => {
    const started: string[] = [];
    let releaseA: () => void = () => {};
    const aReleased = new Promise<void>((resolve) => {
      releaseA = resolve;
    });
    const port = await serve(async (request) => {
      const text = request.toString();
      started.push(text);
      if (text === 'a') await aReleased;
      return { kind: 'respond', response: Buffer.from(`re:${text}`), underQuota: true };
    });
    const client = connect(port, '127.0.0.1');
    const frames: string[] = [];
    onFrames(client, (one) => frames.push(one));
    // The first answer says the client is under a quota; from then on one request at a time.
    client.write(frame('hello'));
    await vi.waitFor(() => expect(frames).toEqual(['re:hello']));
    client.write(Buffer.concat([frame('a'), frame('b')]));
    await vi.waitFor(() => expect(started).toEqual(['hello', 'a']));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(started).toEqual(['hello', 'a']);
    releaseA();
    await vi.waitFor(() => expect(frames).toEqual(['re:hello', 're:a', 're:b']));
    expect(started).toEqual(['hello', 'a', 'b']);
    client.destroy();
  });

  it('starts no request queued behind a throttled one until the throttle ends', async () => {
    const timers = new ManualTimers(new ManualClock(0));
    const started: string[] = [];
    const port = await serve(
      async (request) => {
        const text = request.toString();
        started.push(text);
        return {
          kind: 'respond',
          response: Buffer.from(`re:${text}`),
          underQuota: true,
          ...(text === 'heavy' ? { throttle: { timeMs: 1000, delayResponse: false } } : {}),
        };
      },
      [],
      undefined,
      timers,
    );
    const client = connect(port, '127.0.0.1');
    const frames: string[] = [];
    onFrames(client, (one) => frames.push(one));
    client.write(frame('hello'));
    await vi.waitFor(() => expect(frames).toEqual(['re:hello']));
    // Pipelined in one write: read together, but queued behind the request being handled.
    client.write(Buffer.concat([frame('heavy'), frame('x'), frame('y')]));
    await vi.waitFor(() => expect(frames).toEqual(['re:hello', 're:heavy']));
    expect(timers.pendingCount).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(started).toEqual(['hello', 'heavy']);
    timers.advanceMs(999);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(started).toEqual(['hello', 'heavy']);
    timers.advanceMs(1);
    await vi.waitFor(() => expect(frames).toEqual(['re:hello', 're:heavy', 're:x', 're:y']));
    expect(started).toEqual(['hello', 'heavy', 'x', 'y']);
    client.destroy();
  });

  it('lets requests already being handled when a throttle starts finish and answer in order', async () => {
    const timers = new ManualTimers(new ManualClock(0));
    const started: string[] = [];
    let releaseSlow: () => void = () => {};
    const slowReleased = new Promise<void>((resolve) => {
      releaseSlow = resolve;
    });
    const port = await serve(
      async (request) => {
        const text = request.toString();
        started.push(text);
        if (text === 'slow') await slowReleased;
        return {
          kind: 'respond',
          response: Buffer.from(`re:${text}`),
          ...(text === 'heavy' ? { throttle: { timeMs: 1000, delayResponse: false } } : {}),
        };
      },
      [],
      undefined,
      timers,
    );
    const client = connect(port, '127.0.0.1');
    const frames: string[] = [];
    onFrames(client, (one) => frames.push(one));
    // No quota known yet: both are handled at once; the throttle comes with the first answer.
    client.write(Buffer.concat([frame('heavy'), frame('slow')]));
    await vi.waitFor(() => expect(frames).toEqual(['re:heavy']));
    expect(started).toEqual(['heavy', 'slow']);
    client.write(frame('later'));
    releaseSlow();
    await vi.waitFor(() => expect(frames).toEqual(['re:heavy', 're:slow']));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(started).toEqual(['heavy', 'slow']);
    timers.advanceMs(1000);
    await vi.waitFor(() => expect(frames).toEqual(['re:heavy', 're:slow', 're:later']));
    client.destroy();
  });

  it('gives back the memory of requests still queued when the connection closes', async () => {
    const timers = new ManualTimers(new ManualClock(0));
    const memory = new RequestMemoryPool(4096);
    const port = await serve(
      async (request) => ({
        kind: 'respond',
        response: Buffer.from(`re:${request.toString()}`),
        underQuota: true,
        ...(request.toString() === 'heavy' ? { throttle: { timeMs: 1000, delayResponse: false } } : {}),
      }),
      [],
      memory,
      timers,
    );
    const client = connect(port, '127.0.0.1');
    const frames: string[] = [];
    onFrames(client, (one) => frames.push(one));
    client.write(frame('hello'));
    await vi.waitFor(() => expect(frames).toEqual(['re:hello']));
    client.write(Buffer.concat([frame('heavy'), frame('q'.repeat(200))]));
    await vi.waitFor(() => expect(frames).toEqual(['re:hello', 're:heavy']));
    expect(memory.reservedBytes).toBe(200);
    client.destroy();
    await vi.waitFor(() => expect(memory.reservedBytes).toBe(0));
    expect(timers.pendingCount).toBe(0);
  });
});

/** A socket the test drives: `emit('data', ...)` is the client's bytes arriving. */
class FakeSocket extends EventEmitter {
  readonly written: Buffer[] = [];
  destroyed = false;
  paused = false;
  /** Bytes written that the client has not taken: every write adds to it, `drain()` empties it. */
  writableLength = 0;
  /** Runs on every write: a test moves its clock there, as if writing took time. */
  constructor(private readonly onWrite: () => void = () => {}) {
    super();
  }
  setNoDelay() {}
  pause() {
    this.paused = true;
  }
  resume() {
    this.paused = false;
  }
  cork() {}
  uncork() {}
  write(chunk: Buffer): boolean {
    this.onWrite();
    this.written.push(chunk);
    this.writableLength += chunk.length;
    return true;
  }
  /** The client read everything written. */
  drain() {
    this.writableLength = 0;
    this.emit('drain');
  }
  end() {}
  destroySoon() {}
  destroy() {
    this.destroyed = true;
  }
}

/** A manual clock each reading of which is 1 ms after the one before; it counts its readings. */
class SteppingClock implements Clock {
  readings = 0;
  private currentMs = 0;
  nowMs(): number {
    this.readings++;
    this.currentMs += 1;
    return this.currentMs;
  }
  advanceMs(deltaMs: number): void {
    this.currentMs += deltaMs;
  }
}

const settled = () => new Promise((resolve) => setImmediate(resolve));

describe('Connection: network time (request_percentage)', () => {
  it('times its reading and writing for a client with a request_percentage quota, and hands it to the request it answers', async () => {
    const clock = new SteppingClock();
    const socket = new FakeSocket(() => clock.advanceMs(10)); // each write takes 10 ms
    const recorded: number[] = [];
    const recorder: NetworkTimeRecorder = { clock, record: (timeMs) => recorded.push(timeMs) };
    // The client has request_percentage until the test takes it away (a byte rate stays).
    let requestQuota = true;
    new Connection(
      socket as unknown as Socket,
      { connectionId: 1, remoteAddress: 'test', listenerName: 'PLAINTEXT' },
      async (request) => ({
        kind: 'respond',
        response: Buffer.from(`re:${request.toString()}`),
        underQuota: true,
        ...(requestQuota ? { networkTime: recorder } : {}),
      }),
      { onProtocolError: () => {}, onClosedAfterResponse: () => {}, onClose: () => {} },
      { frameMaxBytes: 1024, requestMemory: new RequestMemoryPool(4096) },
    );

    // Not known to be under request_percentage when it was read: only the write is timed, once the
    // answer says so. Two writes of 10 ms between two readings of the clock, 1 ms apart: 21 ms.
    socket.emit('data', frame('a'));
    await settled();
    expect(socket.written).toHaveLength(2);
    expect(recorded).toEqual([21]);
    // Reading and decoding the next frame (1 ms) is handed on with its response's writing (21 ms).
    socket.emit('data', frame('b'));
    await settled();
    expect(recorded).toEqual([21, 22]);

    // The quota is gone: what was read meanwhile is dropped, and from its answer on the clock is
    // read no more, though the client is still under a (byte rate) quota.
    requestQuota = false;
    socket.emit('data', frame('c'));
    await settled();
    const readings = clock.readings;
    socket.emit('data', frame('d'));
    socket.emit('data', frame('e'));
    await settled();
    expect(socket.written).toHaveLength(10);
    expect(recorded).toEqual([21, 22]);
    expect(clock.readings).toBe(readings);
  });

  it('hands the time to a request answered without a response (acks=0)', async () => {
    const clock = new SteppingClock();
    const socket = new FakeSocket(() => clock.advanceMs(10));
    const recorded: number[] = [];
    const recorder: NetworkTimeRecorder = { clock, record: (timeMs) => recorded.push(timeMs) };
    new Connection(
      socket as unknown as Socket,
      { connectionId: 1, remoteAddress: 'test', listenerName: 'PLAINTEXT' },
      async (request) =>
        request.toString() === 'silent'
          ? { kind: 'no-response', underQuota: true, networkTime: recorder }
          : { kind: 'respond', response: Buffer.from('re'), underQuota: true, networkTime: recorder },
      { onProtocolError: () => {}, onClosedAfterResponse: () => {}, onClose: () => {} },
      { frameMaxBytes: 1024, requestMemory: new RequestMemoryPool(4096) },
    );
    socket.emit('data', frame('hello'));
    await settled();
    socket.emit('data', frame('silent'));
    await settled();
    // 1 ms reading it, 1 ms from the start to the end of a flush that wrote nothing.
    expect(recorded).toEqual([21, 2]);
  });
});

/** A handler whose requests settle when the test says so, each answered with `responseBytes` bytes. */
function manualHandler(responseBytes: number) {
  const pending: Array<() => void> = [];
  const handler: FrameHandler = () =>
    new Promise((resolve) => {
      pending.push(() => resolve({ kind: 'respond', response: Buffer.alloc(responseBytes) }));
    });
  return { handler, settleNext: () => pending.shift()!() };
}

describe('Connection: memory bounds per connection', () => {
  it('stops reading while the requests it has read hold requestBytesInFlightMax bytes, and reads again below half', async () => {
    const socket = new FakeSocket();
    const memory = new RequestMemoryPool(4096);
    const { handler, settleNext } = manualHandler(1);
    new Connection(
      socket as unknown as Socket,
      { connectionId: 1, remoteAddress: 'test', listenerName: 'PLAINTEXT' },
      handler,
      { onProtocolError: () => {}, onClosedAfterResponse: () => {}, onClose: () => {} },
      { frameMaxBytes: 1024, requestMemory: memory, requestBytesInFlightMax: 100 },
    );
    socket.emit('data', frame('a'.repeat(40)));
    socket.emit('data', frame('b'.repeat(40)));
    expect(socket.paused).toBe(false);
    // 120 bytes read and being handled: no more is read (a client that never waits, acks=0).
    socket.emit('data', frame('c'.repeat(40)));
    expect(socket.paused).toBe(true);
    expect(memory.reservedBytes).toBe(120);
    // 80 left, not below half: still stopped.
    settleNext();
    await settled();
    expect(socket.paused).toBe(true);
    // 40 left: reading resumes; every request is answered, none dropped.
    settleNext();
    await settled();
    expect(socket.paused).toBe(false);
    settleNext();
    await settled();
    expect(memory.reservedBytes).toBe(0);
    expect(socket.written).toHaveLength(6);
  });

  it('reads a frame larger than requestBytesInFlightMax whole, then nothing more until it is handled', async () => {
    const socket = new FakeSocket();
    const { handler, settleNext } = manualHandler(1);
    const handled: string[] = [];
    new Connection(
      socket as unknown as Socket,
      { connectionId: 1, remoteAddress: 'test', listenerName: 'PLAINTEXT' },
      (request, context) => {
        handled.push(request.toString());
        return handler(request, context);
      },
      { onProtocolError: () => {}, onClosedAfterResponse: () => {}, onClose: () => {} },
      { frameMaxBytes: 1024, requestMemory: new RequestMemoryPool(4096), requestBytesInFlightMax: 100 },
    );
    socket.emit('data', frame('x'.repeat(300)));
    expect(handled).toEqual(['x'.repeat(300)]);
    expect(socket.paused).toBe(true);
    settleNext();
    await settled();
    expect(socket.paused).toBe(false);
    expect(socket.written).toHaveLength(2);
  });

  it('stops reading while its client leaves responseBytesBufferedMax bytes of responses untaken, until the socket drains', async () => {
    const socket = new FakeSocket();
    const { handler, settleNext } = manualHandler(60);
    new Connection(
      socket as unknown as Socket,
      { connectionId: 1, remoteAddress: 'test', listenerName: 'PLAINTEXT' },
      handler,
      { onProtocolError: () => {}, onClosedAfterResponse: () => {}, onClose: () => {} },
      { frameMaxBytes: 1024, requestMemory: new RequestMemoryPool(4096), responseBytesBufferedMax: 100 },
    );
    socket.emit('data', Buffer.concat([frame('a'), frame('b'), frame('c')]));
    settleNext();
    await settled();
    // 64 bytes (size and response) not taken: under the bound.
    expect(socket.paused).toBe(false);
    settleNext();
    await settled();
    // 128: the client does not read; no more requests are read from it.
    expect(socket.paused).toBe(true);
    // A request already read is still answered meanwhile, in order.
    settleNext();
    await settled();
    expect(socket.written).toHaveLength(6);
    expect(socket.paused).toBe(true);
    socket.drain();
    expect(socket.paused).toBe(false);
    // A second slow spell pauses again (one 'drain' listener at a time, then a fresh one).
    socket.emit('data', Buffer.concat([frame('d'), frame('e')]));
    settleNext();
    settleNext();
    await settled();
    expect(socket.paused).toBe(true);
    expect(socket.listenerCount('drain')).toBe(1);
    socket.drain();
    expect(socket.paused).toBe(false);
    expect(socket.listenerCount('drain')).toBe(0);
  });
});

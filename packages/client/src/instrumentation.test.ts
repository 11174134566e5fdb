// The shared instrumentation emitter against kafkajs 2.2.4 itself (its event tables and its refusal
// of an unknown name, byte for byte), and the network events a connection emits, over a local
// socket whose answers the test scripts.

import { createServer, type Server, type Socket } from 'node:net';
import { waitFor } from '@gregor/ground/testing';
import { ApiKey, decodeRequest, encodeResponse } from '@gregor/protocol';
import { Kafka as KafkaJs, logLevel as kafkajsLogLevel } from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';
import { KafkaConnection } from './connection.js';
import { consumerEvents } from './consumer/instrumentation.js';
import {
  adminEvents,
  createInstrumentation,
  type InstrumentationEvent,
  type ProducerEventPayloads,
  producerEvents,
  type RequestPayload,
  type RequestQueueSizePayload,
  type RequestTimeoutPayload,
} from './instrumentation.js';
import { Kafka } from './kafka.js';
import { createLogger, type LogEntry, logLevel } from './logger.js';

const quiet = createLogger(logLevel.NOTHING, () => () => undefined);
// Never connects: on() and the event tables need no broker.
const kafkajs = new KafkaJs({ brokers: ['127.0.0.1:1'], logLevel: kafkajsLogLevel.NOTHING });
const gregor = new Kafka({ brokers: ['127.0.0.1:1'], logLevel: logLevel.NOTHING });

function thrown(action: () => unknown): Error {
  try {
    action();
  } catch (error) {
    return error as Error;
  }
  throw new Error('did not throw');
}

describe('the event tables and on() against kafkajs 2.2.4', () => {
  it('consumer.events, producer.events and admin.events are kafkajs’s, name for name', () => {
    expect(gregor.consumer({ groupId: 'g' }).events).toEqual(kafkajs.consumer({ groupId: 'g' }).events);
    expect(gregor.producer().events).toEqual(kafkajs.producer().events);
    expect(gregor.admin().events).toEqual(kafkajs.admin().events);
    expect(Object.keys(consumerEvents)).toHaveLength(16);
  });

  it('an unknown event name is refused with kafkajs’s error and message', () => {
    const pairs: [() => unknown, () => unknown][] = [
      [
        () => gregor.consumer({ groupId: 'g' }).on('consumer.nope' as never, () => undefined),
        () => kafkajs.consumer({ groupId: 'g' }).on('consumer.nope' as never, () => undefined),
      ],
      [
        () => gregor.producer().on('producer.nope' as never, () => undefined),
        () => kafkajs.producer().on('producer.nope' as never, () => undefined),
      ],
      [
        () => gregor.admin().on('admin.nope' as never, () => undefined),
        () => kafkajs.admin().on('admin.nope' as never, () => undefined),
      ],
    ];
    for (const [ours, theirs] of pairs) {
      const ourError = thrown(ours);
      const theirError = thrown(theirs);
      expect(ourError.name).toBe('KafkaJSNonRetriableError');
      expect(ourError.name).toBe(theirError.name);
      expect(ourError.message).toBe(theirError.message);
    }
  });
});

describe('InstrumentationEmitter', () => {
  it('delivers { id, type, timestamp, payload } at once; on() returns the remover', () => {
    const emitter = createInstrumentation<ProducerEventPayloads>(producerEvents, 'producer.events', quiet);
    const seen: InstrumentationEvent<unknown>[] = [];
    const remove = emitter.on(producerEvents.CONNECT, (event) => {
      seen.push(event);
    });
    expect(emitter.listening(producerEvents.CONNECT)).toBe(true);
    expect(emitter.listening(producerEvents.DISCONNECT)).toBe(false);
    const before = Date.now();
    emitter.emit(producerEvents.CONNECT, undefined);
    emitter.emit(producerEvents.CONNECT, undefined);
    expect(seen).toHaveLength(2);
    expect(seen[0]).toMatchObject({ type: 'producer.connect', payload: undefined });
    expect(seen[0]!.timestamp).toBeGreaterThanOrEqual(before);
    expect(seen[1]!.id).toBeGreaterThan(seen[0]!.id);
    remove();
    expect(emitter.listening(producerEvents.CONNECT)).toBe(false);
    emitter.emit(producerEvents.CONNECT, undefined);
    expect(seen).toHaveLength(2);
  });

  it('a listener that throws or rejects is logged; the others still run and emit() does not throw', async () => {
    const entries: LogEntry[] = [];
    const logger = createLogger(logLevel.ERROR, () => (entry) => {
      entries.push(entry);
    });
    const emitter = createInstrumentation<ProducerEventPayloads>(adminEvents, 'admin.events', logger);
    let ran = 0;
    emitter.on(adminEvents.DISCONNECT as never, () => {
      throw new Error('sync boom');
    });
    emitter.on(adminEvents.DISCONNECT as never, async () => {
      throw new Error('async boom');
    });
    emitter.on(adminEvents.DISCONNECT as never, () => {
      ran++;
    });
    emitter.emit(adminEvents.DISCONNECT, undefined);
    expect(ran).toBe(1);
    await waitFor('both failures logged', () => entries.length >= 2 || undefined);
    expect(entries.map((entry) => entry.log.message).sort()).toEqual([
      'Failed to execute listener: async boom',
      'Failed to execute listener: sync boom',
    ]);
  });
});

/** A broker on a local socket: answers ApiVersions v0 unless `silent`, closes on demand. */
class ScriptedSocketBroker {
  private server: Server | undefined;
  private readonly sockets: Socket[] = [];
  silent = false;
  port = 0;

  async start(): Promise<void> {
    this.server = createServer((socket) => {
      this.sockets.push(socket);
      let buffer = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        buffer = Buffer.concat([buffer, chunk]);
        while (buffer.length >= 4 && buffer.length >= 4 + buffer.readInt32BE(0)) {
          const frame = buffer.subarray(4, 4 + buffer.readInt32BE(0));
          buffer = buffer.subarray(4 + frame.length);
          const request = decodeRequest(frame);
          if (!request.ok || this.silent) continue;
          socket.write(
            encodeResponse(
              ApiKey.ApiVersions,
              0,
              request.header.correlationId,
              { errorCode: 0, apiKeys: [{ apiKey: ApiKey.ApiVersions, minVersion: 0, maxVersion: 3 }] },
              { sizePrefix: true },
            ),
          );
        }
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
  }

  closeConnections(): void {
    for (const socket of this.sockets) socket.destroy();
  }

  async stop(): Promise<void> {
    this.closeConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }
}

describe('network events of a connection', () => {
  let broker: ScriptedSocketBroker | undefined;
  let connection: KafkaConnection | undefined;
  afterEach(async () => {
    connection?.close();
    await broker?.stop();
  });

  async function open(silent = false) {
    broker = new ScriptedSocketBroker();
    broker.silent = silent;
    await broker.start();
    const instrumentation = createInstrumentation<ProducerEventPayloads>(
      producerEvents,
      'producer.events',
      quiet,
    );
    connection = await KafkaConnection.open({
      host: '127.0.0.1',
      port: broker.port,
      clientId: 'events-test',
      instrumentation,
    });
    return { instrumentation, port: broker.port };
  }

  it('REQUEST carries kafkajs’s fields: broker, clientId, correlationId, size, times, api', async () => {
    const { instrumentation, port } = await open();
    const events: InstrumentationEvent<RequestPayload>[] = [];
    instrumentation.on(producerEvents.REQUEST, (event) => {
      events.push(event);
    });
    const before = Date.now();
    await connection!.call(ApiKey.ApiVersions, 0, {});
    await connection!.call(ApiKey.ApiVersions, 0, {});
    expect(events).toHaveLength(2);
    const [first, second] = events;
    expect(first!.type).toBe('producer.network.request');
    expect(first!.payload).toMatchObject({
      broker: `127.0.0.1:${port}`,
      clientId: 'events-test',
      apiName: 'ApiVersions',
      apiKey: ApiKey.ApiVersions,
      apiVersion: 0,
      pendingDuration: 0,
    });
    expect(Object.keys(first!.payload).sort()).toEqual(
      [
        'broker',
        'clientId',
        'correlationId',
        'size',
        'createdAt',
        'sentAt',
        'pendingDuration',
        'duration',
        'apiName',
        'apiKey',
        'apiVersion',
      ].sort(),
    );
    // The response frame without its size prefix: correlation id, error code, one api key (3 int16), throttle-free v0.
    expect(first!.payload.size).toBe(4 + 2 + 4 + 6);
    expect(first!.payload.sentAt).toBeGreaterThanOrEqual(before);
    expect(first!.payload.createdAt).toBe(first!.payload.sentAt);
    expect(first!.payload.duration).toBeGreaterThanOrEqual(0);
    expect(second!.payload.correlationId).toBe(first!.payload.correlationId + 1);

    // A request without an answer (Produce with acks=0) is reported at once with size 0, as kafkajs's.
    connection!.sendOneWay(ApiKey.ApiVersions, 0, {});
    expect(events).toHaveLength(3);
    expect(events[2]!.payload).toMatchObject({
      correlationId: second!.payload.correlationId + 1,
      size: 0,
      apiName: 'ApiVersions',
    });
  });

  it('without a listener no payload is built: emit() is never called', async () => {
    const { instrumentation } = await open();
    const emitted: string[] = [];
    const original = instrumentation.emit.bind(instrumentation);
    instrumentation.emit = ((type: string, payload: unknown) => {
      emitted.push(type);
      original(type as never, payload as never);
    }) as typeof instrumentation.emit;
    await connection!.call(ApiKey.ApiVersions, 0, {});
    expect(emitted).toEqual([]);
  });

  it('REQUEST_TIMEOUT names the request that got no answer', async () => {
    const { instrumentation, port } = await open(true);
    const timeouts: InstrumentationEvent<RequestTimeoutPayload>[] = [];
    instrumentation.on(producerEvents.REQUEST_TIMEOUT, (event) => {
      timeouts.push(event);
    });
    await expect(connection!.call(ApiKey.ApiVersions, 0, {}, 20)).rejects.toThrow(/timed out/);
    expect(timeouts).toHaveLength(1);
    expect(timeouts[0]!.type).toBe('producer.network.request_timeout');
    expect(timeouts[0]!.payload).toMatchObject({
      broker: `127.0.0.1:${port}`,
      clientId: 'events-test',
      apiName: 'ApiVersions',
      apiKey: ApiKey.ApiVersions,
      apiVersion: 0,
      pendingDuration: 0,
    });
  });

  it('REQUEST_QUEUE_SIZE reports the emptied queue when the broker closes the connection, not on our close', async () => {
    const { instrumentation, port } = await open(true);
    const sizes: InstrumentationEvent<RequestQueueSizePayload>[] = [];
    instrumentation.on(producerEvents.REQUEST_QUEUE_SIZE, (event) => {
      sizes.push(event);
    });
    const pending = connection!.call(ApiKey.ApiVersions, 0, {}).catch((error: Error) => error);
    broker!.closeConnections();
    expect(await pending).toBeInstanceOf(Error);
    await waitFor('queue size event', () => sizes[0]);
    expect(sizes).toHaveLength(1);
    expect(sizes[0]!.payload).toEqual({ broker: `127.0.0.1:${port}`, clientId: 'events-test', queueSize: 0 });

    const second = await open(true);
    const ours: unknown[] = [];
    second.instrumentation.on(producerEvents.REQUEST_QUEUE_SIZE, (event) => {
      ours.push(event);
    });
    connection!.close();
    expect(ours).toEqual([]);
  });
});

// One connection to a Kafka-protocol broker: requests are pipelined, answered in order, matched by
// correlation id. The seed of Gregor's own client; it serves the tools, scripts and tests.

import { connect, isIP, type Socket } from 'node:net';
import { type ConnectionOptions, connect as connectTls } from 'node:tls';
import {
  ApiKey,
  apiSupport,
  decodeResponse,
  encodeRequest,
  produceRequestFrameSegments,
  producesFrameSegments,
  type RequestInput,
  type ResponseDecodeResult,
  type SupportedApiKey,
} from '@gregor/protocol';
import type { NetworkInstrumentation } from './instrumentation.js';
import { ResponseFrameReader } from './response-frames.js';

export class KafkaConnectionError extends Error {
  override readonly name = 'KafkaConnectionError';
}

/** Requests awaiting a response on one connection; more is a caller bug, not load to absorb. */
export const inFlightRequestsMax = 1_000;
export { responseFrameMaxBytes } from './response-frames.js';

interface Pending {
  readonly apiKey: SupportedApiKey;
  readonly apiVersion: number;
  readonly resolve: (frame: Buffer) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
  /** When it was written, for the REQUEST event; -1 when nobody listened then (no clock read). */
  readonly sentAt: number;
}

/**
 * Near the size of a Produce request's frame (its record batches are nearly all of it), so the
 * encoder writes it into one buffer of about that size; undefined for other requests.
 */
function produceFrameBytesHint(apiKey: SupportedApiKey, body: unknown): number | undefined {
  if (apiKey !== ApiKey.Produce) return undefined;
  const { topics } = body as RequestInput<typeof ApiKey.Produce>;
  // Header, client id, transactional id and the counts; the names and fields of each topic and
  // partition. Short of the real size, the writer grows once and the frame is copied, nothing worse.
  let bytes = 512;
  for (const topic of topics) {
    bytes += 3 * (topic.name?.length ?? 0) + 16;
    for (const partition of topic.partitions) bytes += 16 + (partition.records?.length ?? 0);
  }
  return bytes;
}

/** kafkajs's apiName where it differs from Kafka's name for the key. */
const kafkajsApiNames: Readonly<Record<number, string>> = {
  [ApiKey.FindCoordinator]: 'GroupCoordinator',
  [ApiKey.ElectLeaders]: 'ElectPreferredLeaders',
};

function apiName(apiKey: number): string {
  return kafkajsApiNames[apiKey] ?? apiSupport(apiKey)?.name ?? `api ${apiKey}`;
}

export interface KafkaConnectionOptions {
  readonly host: string;
  readonly port: number;
  readonly clientId?: string;
  readonly connectTimeoutMs?: number;
  /** The local address to connect from (another 127.0.0.0/8 address, say); the system's choice by default. */
  readonly localAddress?: string;
  /** TLS, as kafkajs's `ssl`: `true` for Node's defaults, or tls.connect options (ca, cert, key...). */
  readonly ssl?: boolean | ConnectionOptions;
  /**
   * Reads responses as Kafka's clients do, ignoring bytes after the fields this version defines.
   * Off by default: Gregor's tests use this connection to check the broker's encodings exactly.
   */
  readonly ignoreTrailingResponseBytes?: boolean;
  /** The owning client's events: REQUEST, REQUEST_TIMEOUT, REQUEST_QUEUE_SIZE (kafkajs's network events). */
  readonly instrumentation?: NetworkInstrumentation;
}

export class KafkaConnection {
  private readonly pending = new Map<number, Pending>();
  private nextCorrelationId = 1;
  private readonly frames = new ResponseFrameReader();
  private closedError: Error | undefined;

  private constructor(
    private readonly socket: Socket,
    private readonly clientId: string,
    private readonly ignoreTrailingResponseBytes: boolean,
    /** `host:port`, as the network events name the broker. */
    private readonly broker: string,
    private readonly instrumentation: NetworkInstrumentation | undefined,
  ) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (error) => this.lost(new KafkaConnectionError(error.message)));
    socket.on('close', () => this.lost(new KafkaConnectionError('connection closed by the broker')));
  }

  static open(options: KafkaConnectionOptions): Promise<KafkaConnection> {
    return new Promise((resolve, reject) => {
      const ssl = options.ssl ?? false;
      const local = options.localAddress === undefined ? {} : { localAddress: options.localAddress };
      const socket: Socket =
        ssl === false
          ? connect({ host: options.host, port: options.port, noDelay: true, ...local })
          : connectTls({
              host: options.host,
              port: options.port,
              ...local,
              // SNI takes a host name only; the certificate is still checked against an IP address.
              ...(isIP(options.host) === 0 ? { servername: options.host } : {}),
              ...(ssl === true ? {} : ssl),
            });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new KafkaConnectionError(`connect to ${options.host}:${options.port} timed out`));
      }, options.connectTimeoutMs ?? 5_000);
      socket.once(ssl === false ? 'connect' : 'secureConnect', () => {
        clearTimeout(timer);
        socket.setNoDelay(true);
        socket.removeAllListeners('error');
        resolve(
          new KafkaConnection(
            socket,
            options.clientId ?? 'gregor',
            options.ignoreTrailingResponseBytes ?? false,
            `${options.host}:${options.port}`,
            options.instrumentation,
          ),
        );
      });
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(new KafkaConnectionError(`connect to ${options.host}:${options.port}: ${error.message}`));
      });
    });
  }

  /** Sends one request and resolves with its decoded response (or a decode failure value). */
  async request<K extends SupportedApiKey>(
    apiKey: K,
    apiVersion: number,
    body: RequestInput<K>,
    timeoutMs = 30_000,
  ): Promise<ResponseDecodeResult<K>> {
    const frame = await this.requestFrame(apiKey, apiVersion, body, timeoutMs);
    return decodeResponse(apiKey, apiVersion, frame, {
      ignoreTrailingBytes: this.ignoreTrailingResponseBytes,
    });
  }

  /** Like request(), but throws unless the response decoded; returns the body. */
  async call<K extends SupportedApiKey>(
    apiKey: K,
    apiVersion: number,
    body: RequestInput<K>,
    timeoutMs = 30_000,
  ) {
    const result = await this.request(apiKey, apiVersion, body, timeoutMs);
    if (!result.ok)
      throw new KafkaConnectionError(`bad response to api ${apiKey} v${apiVersion}: ${result.message}`);
    return result.body;
  }

  private requestFrame<K extends SupportedApiKey>(
    apiKey: K,
    apiVersion: number,
    body: RequestInput<K>,
    timeoutMs: number,
  ): Promise<Buffer> {
    if (this.closedError !== undefined) return Promise.reject(this.closedError);
    if (this.pending.size >= inFlightRequestsMax) {
      return Promise.reject(new KafkaConnectionError(`more than ${inFlightRequestsMax} requests in flight`));
    }
    const correlationId = this.nextCorrelationId;
    this.nextCorrelationId = (this.nextCorrelationId + 1) & 0x7fffffff;
    const frame = this.encodeFrame(apiKey, apiVersion, correlationId, body);
    const instrumentation = this.instrumentation;
    // The clock is read only for a listener: unobserved requests cost nothing more.
    const sentAt =
      instrumentation !== undefined &&
      (instrumentation.listening(instrumentation.names.REQUEST) ||
        instrumentation.listening(instrumentation.names.REQUEST_TIMEOUT))
        ? Date.now()
        : -1;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(correlationId);
        reject(new KafkaConnectionError(`api ${apiKey} v${apiVersion} timed out after ${timeoutMs} ms`));
        if (instrumentation?.listening(instrumentation.names.REQUEST_TIMEOUT)) {
          // Unobserved when sent: it was sent timeoutMs ago, which is when this timer was set.
          const sent = sentAt >= 0 ? sentAt : Date.now() - timeoutMs;
          instrumentation.emit(instrumentation.names.REQUEST_TIMEOUT, {
            broker: this.broker,
            clientId: this.clientId,
            correlationId,
            createdAt: sent,
            sentAt: sent,
            pendingDuration: 0,
            apiName: apiName(apiKey),
            apiKey,
            apiVersion,
          });
        }
      }, timeoutMs);
      this.pending.set(correlationId, { apiKey, apiVersion, resolve, reject, timer, sentAt });
      this.writeFrame(frame);
    });
  }

  /** Sends a request that gets no response (Produce with acks=0); REQUEST says size 0, as kafkajs's. */
  sendOneWay<K extends SupportedApiKey>(apiKey: K, apiVersion: number, body: RequestInput<K>): void {
    const correlationId = this.nextCorrelationId;
    this.nextCorrelationId = (this.nextCorrelationId + 1) & 0x7fffffff;
    this.writeFrame(this.encodeFrame(apiKey, apiVersion, correlationId, body));
    const instrumentation = this.instrumentation;
    if (instrumentation?.listening(instrumentation.names.REQUEST)) {
      const sentAt = Date.now();
      this.emitRequest(correlationId, { apiKey, apiVersion, sentAt }, 0);
    }
  }

  /**
   * A request's frame: a Produce request's as segments that reference its record batches (they are
   * nearly all of it), so its records are not copied again into the frame; any other as one buffer.
   */
  private encodeFrame<K extends SupportedApiKey>(
    apiKey: K,
    apiVersion: number,
    correlationId: number,
    body: RequestInput<K>,
  ): Buffer | Buffer[] {
    if (apiKey === ApiKey.Produce && producesFrameSegments(apiVersion)) {
      return produceRequestFrameSegments(
        apiVersion,
        correlationId,
        this.clientId,
        body as RequestInput<typeof ApiKey.Produce>,
      );
    }
    return encodeRequest(apiKey, apiVersion, correlationId, this.clientId, body, {
      sizePrefix: true,
      sizeHintBytes: produceFrameBytesHint(apiKey, body),
    });
  }

  /** Writes a frame; a frame of segments goes as one writev (corked), so nothing comes between them. */
  private writeFrame(frame: Buffer | Buffer[]): void {
    if (!Array.isArray(frame)) {
      this.socket.write(frame);
      return;
    }
    this.socket.cork();
    for (const segment of frame) this.socket.write(segment);
    this.socket.uncork();
  }

  private onData(chunk: Buffer): void {
    const result = this.frames.push(chunk);
    for (const frame of result.frames) {
      const correlationId = frame.readInt32BE(0);
      const pending = this.pending.get(correlationId);
      if (pending === undefined) continue;
      this.pending.delete(correlationId);
      clearTimeout(pending.timer);
      pending.resolve(frame);
      if (pending.sentAt >= 0) this.emitRequest(correlationId, pending, frame.length);
    }
    if (result.kind === 'error') {
      this.lost(new KafkaConnectionError(result.reason));
      this.socket.destroy();
    }
  }

  private emitRequest(
    correlationId: number,
    pending: Pick<Pending, 'apiKey' | 'apiVersion' | 'sentAt'>,
    size: number,
  ): void {
    const instrumentation = this.instrumentation!;
    if (!instrumentation.listening(instrumentation.names.REQUEST)) return;
    instrumentation.emit(instrumentation.names.REQUEST, {
      broker: this.broker,
      clientId: this.clientId,
      correlationId,
      size,
      createdAt: pending.sentAt,
      sentAt: pending.sentAt,
      pendingDuration: 0,
      duration: Date.now() - pending.sentAt,
      apiName: apiName(pending.apiKey),
      apiKey: pending.apiKey,
      apiVersion: pending.apiVersion,
    });
  }

  /**
   * The broker closed the connection or it failed: every request fails, and the (empty) queue's
   * size is reported, as kafkajs's connection does when it rejects its requests.
   */
  private lost(error: Error): void {
    if (this.closedError !== undefined) return;
    this.fail(error);
    const instrumentation = this.instrumentation;
    if (instrumentation?.listening(instrumentation.names.REQUEST_QUEUE_SIZE)) {
      instrumentation.emit(instrumentation.names.REQUEST_QUEUE_SIZE, {
        broker: this.broker,
        clientId: this.clientId,
        queueSize: 0,
      });
    }
  }

  private fail(error: Error): void {
    if (this.closedError !== undefined) return;
    this.closedError = error;
    for (const pending of this.pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(error);
    }
    this.pending.clear();
  }

  /** True once the connection failed or was closed; a closed connection is never reused. */
  get isClosed(): boolean {
    return this.closedError !== undefined;
  }

  close(): void {
    this.fail(new KafkaConnectionError('connection closed by the client'));
    this.socket.destroy();
  }
}

export { ApiKey };

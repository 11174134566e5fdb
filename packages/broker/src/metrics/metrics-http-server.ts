// The HTTP endpoint on gregor.metrics.port:
//   GET /metrics  Prometheus text format (prometheus-exporter.ts)
//   GET /healthz  200 while the process and its event loop are alive (answering at all shows it)
//   GET /readyz   200 when the broker should get client traffic (readiness.ts), 503 otherwise,
//                 with the reasons one per line
// HEAD is answered like GET without the body; other methods get 405, other paths 404.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../logging.js';
import type { Readiness } from './readiness.js';

/** Connections the endpoint serves at once (scrapers and probes); more are refused by the server. */
export const metricsConnectionsMax = 64;
/** A client that has not sent its whole request in this time is disconnected. */
export const metricsRequestTimeoutMs = 10_000;

export interface MetricsEndpoints {
  metrics(): Promise<{ readonly contentType: string; readonly text: string }>;
  readiness(): Readiness;
}

export interface HttpAnswer {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
  readonly headers?: Readonly<Record<string, string>>;
}

const textPlain = 'text/plain; charset=utf-8';

/** The answer to one request; no sockets, so tests call it directly. */
export async function answerMetricsRequest(
  method: string,
  url: string,
  endpoints: MetricsEndpoints,
): Promise<HttpAnswer> {
  const path = url.split('?', 1)[0];
  if (path !== '/metrics' && path !== '/healthz' && path !== '/readyz') {
    return { status: 404, contentType: textPlain, body: 'not found: try /metrics, /healthz or /readyz\n' };
  }
  if (method !== 'GET' && method !== 'HEAD') {
    return {
      status: 405,
      contentType: textPlain,
      body: `${method} not allowed\n`,
      headers: { allow: 'GET, HEAD' },
    };
  }
  switch (path) {
    case '/healthz':
      return { status: 200, contentType: textPlain, body: 'ok\n' };
    case '/readyz': {
      const state = endpoints.readiness();
      return state.ready
        ? { status: 200, contentType: textPlain, body: 'ready\n' }
        : { status: 503, contentType: textPlain, body: `not ready:\n${state.reasons.join('\n')}\n` };
    }
    default: {
      const { contentType, text } = await endpoints.metrics();
      return { status: 200, contentType, body: text };
    }
  }
}

export class MetricsHttpServer {
  private constructor(
    private readonly server: Server,
    /** The port bound (the one asked for, or the OS's choice for 0). */
    readonly port: number,
  ) {}

  /** Binds `host:port` ('' binds every interface, IPv4 and IPv6, as a Kafka listener does). */
  static async listen(
    host: string,
    port: number,
    endpoints: MetricsEndpoints,
    logger: Logger,
  ): Promise<MetricsHttpServer> {
    const server = createServer((request, response) => {
      const method = request.method ?? 'GET';
      answerMetricsRequest(method, request.url ?? '/', endpoints).then(
        (answer) => {
          response.writeHead(answer.status, {
            'content-type': answer.contentType,
            'content-length': Buffer.byteLength(answer.body),
            ...answer.headers,
          });
          response.end(method === 'HEAD' ? undefined : answer.body);
        },
        (error: unknown) => {
          logger.error({ err: error, url: request.url }, 'metrics endpoint failed');
          response.writeHead(500, { 'content-type': textPlain });
          response.end(`${String(error)}\n`);
        },
      );
    });
    server.maxConnections = metricsConnectionsMax;
    server.requestTimeout = metricsRequestTimeoutMs;
    server.headersTimeout = metricsRequestTimeoutMs;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error) =>
        reject(
          new Error(`cannot bind gregor.metrics.port ${host === '' ? '*' : host}:${port}: ${error.message}`),
        ),
      );
      server.listen({ port, ...(host === '' ? {} : { host }) }, () => resolve());
    });
    server.on('error', (error) => logger.error({ err: error }, 'metrics endpoint error'));
    return new MetricsHttpServer(server, (server.address() as AddressInfo).port);
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

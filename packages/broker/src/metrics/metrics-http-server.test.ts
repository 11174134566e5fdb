import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../logging.js';
import { answerMetricsRequest, type MetricsEndpoints, MetricsHttpServer } from './metrics-http-server.js';
import type { Readiness } from './readiness.js';

let state: Readiness = { ready: true, reasons: [] };
let scrapes = 0;
const endpoints: MetricsEndpoints = {
  metrics: async () => {
    scrapes++;
    return { contentType: 'text/plain; version=0.0.4; charset=utf-8', text: 'up_total 1\n' };
  },
  readiness: () => state,
};

describe('answerMetricsRequest', () => {
  it('serves the metrics text with its content type', async () => {
    const before = scrapes;
    expect(await answerMetricsRequest('GET', '/metrics', endpoints)).toEqual({
      status: 200,
      contentType: 'text/plain; version=0.0.4; charset=utf-8',
      body: 'up_total 1\n',
    });
    expect(scrapes).toBe(before + 1);
  });

  it('answers /healthz whatever the readiness', async () => {
    state = { ready: false, reasons: ['fenced by the controller'] };
    expect(await answerMetricsRequest('GET', '/healthz', endpoints)).toMatchObject({
      status: 200,
      body: 'ok\n',
    });
  });

  it('answers /readyz 200 when ready and 503 with every reason otherwise', async () => {
    state = { ready: true, reasons: [] };
    expect(await answerMetricsRequest('GET', '/readyz', endpoints)).toMatchObject({
      status: 200,
      body: 'ready\n',
    });
    state = { ready: false, reasons: ['fenced by the controller', 'Kafka listeners not serving'] };
    expect(await answerMetricsRequest('GET', '/readyz?verbose', endpoints)).toMatchObject({
      status: 503,
      body: 'not ready:\nfenced by the controller\nKafka listeners not serving\n',
    });
  });

  it('refuses other paths with 404 and other methods with 405', async () => {
    expect(await answerMetricsRequest('GET', '/', endpoints)).toMatchObject({ status: 404 });
    expect(await answerMetricsRequest('GET', '/metrics/extra', endpoints)).toMatchObject({ status: 404 });
    expect(await answerMetricsRequest('POST', '/metrics', endpoints)).toMatchObject({
      status: 405,
      headers: { allow: 'GET, HEAD' },
    });
  });
});

describe('MetricsHttpServer', () => {
  let server: MetricsHttpServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('binds a port the OS chooses and serves the endpoints over HTTP', async () => {
    const logger = createLogger({ nodeId: 1, level: 'silent', prettyPrint: false });
    server = await MetricsHttpServer.listen('127.0.0.1', 0, endpoints, logger);
    expect(server.port).toBeGreaterThan(0);
    const base = `http://127.0.0.1:${server.port}`;
    const metrics = await fetch(`${base}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(await metrics.text()).toBe('up_total 1\n');
    state = { ready: false, reasons: ['shutting down'] };
    const notReady = await fetch(`${base}/readyz`);
    expect(notReady.status).toBe(503);
    expect(await notReady.text()).toBe('not ready:\nshutting down\n');
    const head = await fetch(`${base}/healthz`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
  });

  it('says which port it could not bind', async () => {
    const logger = createLogger({ nodeId: 1, level: 'silent', prettyPrint: false });
    server = await MetricsHttpServer.listen('127.0.0.1', 0, endpoints, logger);
    await expect(MetricsHttpServer.listen('127.0.0.1', server.port, endpoints, logger)).rejects.toThrow(
      new RegExp(`cannot bind gregor.metrics.port 127.0.0.1:${server.port}: .*EADDRINUSE`),
    );
  });
});

// /healthz and /readyz of real broker processes (gregor.metrics.port=0, the port read from each
// node's bound-ports): ready while the cluster serves; not ready, while still healthy, once a node
// has lost the quorum (its heartbeats go unanswered) and while a node cannot register at all; ready
// again once the quorum is back. Every wait polls the endpoint, bounded.

import { waitFor } from '@gregor/ground/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessCluster } from '../testing/process-cluster.js';

const endpointWaitMs = 60_000;
const endpointPollMs = 100;

let cluster: ProcessCluster;

beforeAll(async () => {
  cluster = await ProcessCluster.start({ nodeCount: 3, properties: { 'gregor.metrics.port': '0' } });
});

afterAll(async () => {
  await cluster?.close();
});

interface Answer {
  readonly status: number;
  readonly body: string;
}

async function get(nodeId: number, path: string): Promise<Answer> {
  const response = await fetch(`http://127.0.0.1:${cluster.node(nodeId).metricsPort}${path}`);
  return { status: response.status, body: await response.text() };
}

/** Polls `path` on the node until its answer satisfies `accept` (connection errors: keep polling). */
async function waitForAnswer(
  nodeId: number,
  path: string,
  accept: (answer: Answer) => boolean,
  what: string,
): Promise<Answer> {
  let last: Answer | undefined;
  return waitFor(
    what,
    async () => {
      last = await get(nodeId, path);
      return accept(last) ? last : undefined;
    },
    {
      timeoutMs: endpointWaitMs,
      intervalMs: endpointPollMs,
      detail: () => `${JSON.stringify(last ?? 'nothing yet')}\n${cluster.tail(10)}`,
    },
  );
}

describe('health endpoints of broker processes', () => {
  it('says every node of a serving cluster is healthy and ready', async () => {
    for (const node of cluster.nodes) {
      expect(node.metricsPort).toBeGreaterThan(0);
      expect(await get(node.id, '/healthz')).toEqual({ status: 200, body: 'ok\n' });
      expect(await get(node.id, '/readyz')).toEqual({ status: 200, body: 'ready\n' });
    }
    const metrics = await get(1, '/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.body).toMatch(/^kafka_server_kafkaserver_brokerstate 3$/m);
  });

  it('is not ready, but healthy, on a node that lost the quorum', async () => {
    await cluster.kill(2);
    await cluster.kill(3);
    const answer = await waitForAnswer(
      1,
      '/readyz',
      (reply) => reply.status === 503,
      'node 1 to be not ready',
    );
    expect(answer.body).toMatch(/^not ready:\n/);
    expect(answer.body).toMatch(/no heartbeat answered for \d+ ms \(broker.session.timeout.ms=1500\)/);
    expect(await get(1, '/healthz')).toEqual({ status: 200, body: 'ok\n' });
  });

  it('is not ready while a node cannot register, and ready once the quorum is back', async () => {
    await cluster.kill(1);
    await cluster.restart(1);
    // Alone, node 1 has no quorum: it can never register.
    const lonely = await waitForAnswer(1, '/readyz', (reply) => reply.status === 503, 'node 1 to answer');
    expect(lonely.body).toBe('not ready:\nnot registered with the controller\nKafka listeners not serving\n');
    expect(await get(1, '/healthz')).toEqual({ status: 200, body: 'ok\n' });
    expect((await get(1, '/metrics')).body).toMatch(/^kafka_server_kafkaserver_brokerstate 1$/m);

    await cluster.restart(2);
    await cluster.restart(3);
    for (const node of cluster.nodes) {
      await waitForAnswer(node.id, '/readyz', (reply) => reply.status === 200, `node ${node.id} to be ready`);
    }
    await cluster.waitReady();
  });
});

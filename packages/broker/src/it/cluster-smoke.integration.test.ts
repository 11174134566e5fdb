import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessCluster } from '../testing/process-cluster.js';

describe('three-node cluster (processes)', () => {
  let cluster: ProcessCluster;
  beforeAll(async () => {
    cluster = await ProcessCluster.start({ nodeCount: 3 });
  });
  afterAll(async () => {
    await cluster?.close();
  });

  it('lists all three brokers and one controller to kcat', () => {
    const listing = execFileSync('kcat', ['-b', `127.0.0.1:${cluster.node(2).kafkaPort}`, '-L', '-J'], {
      encoding: 'utf8',
    });
    const metadata = JSON.parse(listing) as { brokers: { id: number }[] };
    expect(metadata.brokers.map((broker) => broker.id).sort()).toEqual([1, 2, 3]);
  });
});

// The cluster an integration test inside namespaces (namespaced-test.ts) cuts apart: Gregor nodes
// on the namespace's node addresses 127.0.1.1.. (the campaign's LocalCluster and NodeNetwork), in a
// fresh work directory, and a kafkajs admin client of them that retries as the campaign's clients do.

import { rmSync } from 'node:fs';
import { waitFor } from '@gregor/ground/testing';
import { type Admin, Kafka, logLevel } from 'kafkajs';
import { kafkaPort, LocalCluster } from '../driver/local-cluster.js';
import { nodeAddress } from '../driver/network.js';
import { namespacedWorkDir } from './namespaced-test.js';

export interface NamespacedClusterOptions {
  /** Names the work directory (`gregor-<name>-it-`), the cluster id and the admin's client id. */
  readonly name: string;
  readonly nodeCount: number;
  /** The topic created at start, with this many partitions, each on every node. */
  readonly topic: string;
  readonly partitions: number;
}

export class NamespacedCluster {
  readonly cluster: LocalCluster;
  readonly admin: Admin;
  /** Every node's Kafka listener, `host:port`, in node order. */
  readonly brokers: string[];
  private readonly workDir: string;

  constructor(private readonly options: NamespacedClusterOptions) {
    const { workDir, clusterDir, logDir } = namespacedWorkDir(`gregor-${options.name}-it-`);
    this.workDir = workDir;
    this.cluster = new LocalCluster({
      nodeCount: options.nodeCount,
      workDir: clusterDir,
      logDir,
      diskMb: 256,
      clockNode: undefined,
      clusterId: `${options.name}-it`,
      partitions: options.partitions,
      security: 'plaintext',
      topic: options.topic,
    });
    this.brokers = Array.from(
      { length: options.nodeCount },
      (_, index) => `${nodeAddress(index + 1)}:${kafkaPort}`,
    );
    this.admin = new Kafka({
      clientId: `${options.name}-it-admin`,
      brokers: this.brokers,
      logLevel: logLevel.NOTHING,
      retry: { retries: 20, initialRetryTime: 200, maxRetryTime: 1_000 },
    }).admin();
  }

  /** Starts the nodes and waits until every one is registered and the topic is created. */
  async start(): Promise<void> {
    const { nodeCount, topic, partitions } = this.options;
    await this.cluster.start();
    await waitFor(
      'every node registered, and the topic created',
      async () => {
        try {
          await this.admin.connect();
          if ((await this.admin.describeCluster()).brokers.length < nodeCount) return false;
          await this.admin.createTopics({
            topics: [{ topic, numPartitions: partitions, replicationFactor: nodeCount }],
          });
          return true;
        } catch {
          return false;
        }
      },
      { timeoutMs: 90_000, intervalMs: 500 },
    );
  }

  /** Disconnects the admin, stops the nodes and removes the work directory. */
  async close(): Promise<void> {
    await this.admin.disconnect().catch(() => undefined);
    await this.cluster.close();
    rmSync(this.workDir, { recursive: true, force: true });
  }
}

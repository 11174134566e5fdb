// The observer: every `intervalMs` it asks the cluster (a kafkajs admin client) for the topic's
// leaders and ISRs, the active controller and the group's committed offsets, and asks every node
// itself (Gregor's own client, ListOffsets v4) for the high watermark of each partition it answers
// for as leader, with its leader epoch. It writes what it saw to the history and keeps the latest
// view for the nemesis (which node leads, which is the controller, whether the cluster is whole).
//
// Asking every node, not only the one the metadata names, shows a node that still acts as leader
// after another took over (an isolated leader without a lease): both answer, with different epochs.

import { BrokerConnection } from '@gregor/client';
import { ApiKey, ErrorCode } from '@gregor/protocol';
import { type Admin, Kafka, logLevel } from 'kafkajs';
import type { HistoryEvent } from '../history.js';
import type { ClusterView } from '../scheduler.js';
import type { KafkajsSecurity } from '../security.js';
import { stamp } from './time.js';

export interface ObserverOptions {
  readonly bootstrap: string;
  readonly topic: string;
  readonly group: string;
  readonly partitions: number;
  readonly intervalMs: number;
  /** SASL_SSL for the admin client and the per-node connections; PLAINTEXT when undefined. */
  readonly security?: KafkajsSecurity;
}

export interface ObservedState extends ClusterView {
  /** Brokers the answering node lists as alive. */
  readonly brokers: readonly number[];
  /** Per partition: its in-sync replicas. */
  readonly isr: ReadonlyMap<number, readonly number[]>;
  readonly replicas: ReadonlyMap<number, readonly number[]>;
  readonly atMonoMs: number;
}

const name = 'observer';
/** A node that has not answered ListOffsets by then is down or paused: skipped this round. */
const nodeRequestTimeoutMs = 1_000;
/** Failed metadata rounds in a row (about 5 s at the campaign's 500 ms interval) before a new admin. */
const adminRenewAfterFailures = 10;

export class Observer {
  private admin: Admin;
  /** Metadata rounds failed in a row; at `adminRenewAfterFailures` the admin client is made anew. */
  private failedMetadataRounds = 0;
  private stopping = false;
  private loop: Promise<void> | undefined;
  private latest: ObservedState | undefined;
  private lastLeadersJson = '';
  /** Why the last metadata round failed (undefined after one that succeeded): noted once per change. */
  private lastMetadataError: string | undefined;
  private readonly connections = new Map<string, BrokerConnection>();

  constructor(
    private readonly options: ObserverOptions,
    private readonly sink: (event: HistoryEvent) => void,
  ) {
    this.admin = this.newAdmin();
  }

  private newAdmin(): Admin {
    const kafka = new Kafka({
      clientId: name,
      brokers: this.options.bootstrap.split(','),
      logLevel: logLevel.NOTHING,
      connectionTimeout: 2_000,
      requestTimeout: 3_000,
      retry: { retries: 1, initialRetryTime: 100, maxRetryTime: 500 },
      ...this.options.security,
    });
    return kafka.admin();
  }

  /**
   * Seen once on a saturated machine: every metadata round of the kafkajs admin failed for a
   * minute after the topic was created, while the nodes answered the observer's own ListOffsets
   * on its own connections. After enough failed rounds in a row, start over with a new client
   * (the history notes why the rounds failed, so a repeat can be told apart).
   */
  private async renewAdmin(): Promise<void> {
    const old = this.admin;
    this.admin = this.newAdmin();
    this.failedMetadataRounds = 0;
    void old.disconnect().catch(() => undefined);
    await this.admin.connect().catch(() => undefined);
  }

  async start(): Promise<void> {
    await this.admin.connect();
    this.loop = (async () => {
      while (!this.stopping) {
        await this.observe();
        await new Promise((done) => setTimeout(done, this.options.intervalMs));
      }
    })();
  }

  view(): ObservedState | undefined {
    return this.latest;
  }

  /** Why the last metadata round failed, or undefined when it succeeded. */
  metadataError(): string | undefined {
    return this.lastMetadataError;
  }

  /** One round: metadata first (the nemesis needs it most), then watermarks and commits. */
  async observe(): Promise<ObservedState | undefined> {
    try {
      const [metadata, cluster] = await Promise.all([
        this.admin.fetchTopicMetadata({ topics: [this.options.topic] }),
        this.admin.describeCluster(),
      ]);
      const topic = metadata.topics[0];
      const leaders = new Map<number, number>();
      const isr = new Map<number, number[]>();
      const replicas = new Map<number, number[]>();
      for (const partition of topic?.partitions ?? []) {
        if (partition.leader >= 0) leaders.set(partition.partitionId, partition.leader);
        isr.set(
          partition.partitionId,
          [...partition.isr].sort((a, b) => a - b),
        );
        replicas.set(
          partition.partitionId,
          [...partition.replicas].sort((a, b) => a - b),
        );
      }
      const brokers = cluster.brokers.map((broker) => broker.nodeId).sort((a, b) => a - b);
      const at = stamp();
      this.latest = {
        liveNodes: brokers,
        brokers,
        controller: cluster.controller ?? undefined,
        leaders,
        isr,
        replicas,
        atMonoMs: at.monoMs,
      };
      const leadersRecord = Object.fromEntries(leaders);
      const leadersJson = JSON.stringify([leadersRecord, cluster.controller]);
      if (leadersJson !== this.lastLeadersJson) {
        this.lastLeadersJson = leadersJson;
        this.sink({
          f: 'leaders',
          type: 'ok',
          process: name,
          leaders: leadersRecord,
          controller: cluster.controller ?? -1,
          ...at,
        });
      }
      this.lastMetadataError = undefined;
      this.failedMetadataRounds = 0;
    } catch (error) {
      // A round during a fault may find no one to answer: the next round asks again. Why is kept
      // in the history (once per distinct reason), so a campaign that never sees the cluster whole
      // can say what the observer was told.
      const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      if (reason !== this.lastMetadataError)
        this.sink({
          f: 'note',
          type: 'info',
          process: name,
          ...stamp(),
          text: `metadata round failed: ${reason}`,
        });
      this.lastMetadataError = reason;
      if (++this.failedMetadataRounds >= adminRenewAfterFailures && !this.stopping) await this.renewAdmin();
    }
    await this.observeOffsets();
    return this.latest;
  }

  private async observeOffsets(): Promise<void> {
    // The bootstrap list names node 1, 2, ... in order.
    await Promise.all(
      this.options.bootstrap.split(',').map((address, index) => this.observeNode(address, index + 1)),
    );
    try {
      const [topic] = await this.admin.fetchOffsets({
        groupId: this.options.group,
        topics: [this.options.topic],
      });
      const at = stamp();
      const committed = Object.fromEntries(
        (topic?.partitions ?? [])
          .map((entry) => [entry.partition, Number(entry.offset)] as const)
          .filter(([, offset]) => offset >= 0),
      );
      if (Object.keys(committed).length > 0)
        this.sink({
          f: 'committed',
          type: 'ok',
          process: name,
          group: this.options.group,
          offsets: committed,
          ...at,
        });
    } catch {
      // as above
    }
  }

  /** One node's answer for every partition it leads (a ListOffsets "latest" for each). */
  private async observeNode(address: string, node: number): Promise<void> {
    const [host, portText] = address.split(':') as [string, string];
    try {
      let connection = this.connections.get(address);
      if (connection === undefined || connection.closed) {
        connection = await BrokerConnection.open(
          { host, port: Number(portText) },
          {
            clientId: name,
            connectionTimeoutMs: nodeRequestTimeoutMs,
            requestTimeoutMs: nodeRequestTimeoutMs,
            ...this.options.security,
          },
        );
        this.connections.set(address, connection);
      }
      const { body: response } = await connection.send(
        ApiKey.ListOffsets,
        4,
        {
          replicaId: -1,
          isolationLevel: 0,
          topics: [
            {
              name: this.options.topic,
              partitions: Array.from({ length: this.options.partitions }, (_, partitionIndex) => ({
                partitionIndex,
                currentLeaderEpoch: -1,
                timestamp: -1n,
              })),
            },
          ],
        },
        nodeRequestTimeoutMs,
      );
      const offsets: Record<string, number> = {};
      const epochs: Record<string, number> = {};
      for (const partition of response.topics[0]?.partitions ?? []) {
        if (partition.errorCode !== ErrorCode.NONE) continue;
        offsets[partition.partitionIndex] = Number(partition.offset);
        epochs[partition.partitionIndex] = partition.leaderEpoch;
      }
      if (Object.keys(offsets).length > 0)
        this.sink({ f: 'hwm', type: 'ok', process: name, node, offsets, epochs, ...stamp() });
    } catch {
      // Down, paused or cut: a new connection next round.
      this.connections.get(address)?.close();
      this.connections.delete(address);
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.loop;
    for (const connection of this.connections.values()) connection.close();
    this.connections.clear();
    await this.admin.disconnect().catch(() => undefined);
  }
}

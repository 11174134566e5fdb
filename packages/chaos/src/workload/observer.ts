// The observer: a kafkajs admin client that, every `intervalMs`, asks the cluster for the topic's
// leaders and ISRs, the active controller, the high watermarks and the group's committed offsets,
// writes what it saw to the history, and keeps the latest view for the nemesis (which node leads,
// which is the controller, whether the cluster is whole).

import { type Admin, Kafka, logLevel } from 'kafkajs';
import type { HistoryEvent } from '../history.js';
import type { ClusterView } from '../scheduler.js';
import { stamp } from './time.js';

export interface ObserverOptions {
  readonly bootstrap: string;
  readonly topic: string;
  readonly group: string;
  readonly intervalMs: number;
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

export class Observer {
  private readonly admin: Admin;
  private stopping = false;
  private loop: Promise<void> | undefined;
  private latest: ObservedState | undefined;
  private lastLeadersJson = '';

  constructor(
    private readonly options: ObserverOptions,
    private readonly sink: (event: HistoryEvent) => void,
  ) {
    const kafka = new Kafka({
      clientId: name,
      brokers: options.bootstrap.split(','),
      logLevel: logLevel.NOTHING,
      connectionTimeout: 2_000,
      requestTimeout: 3_000,
      retry: { retries: 1, initialRetryTime: 100, maxRetryTime: 500 },
    });
    this.admin = kafka.admin();
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
    } catch {
      // A round during a fault may find no one to answer: the next round asks again.
    }
    await this.observeOffsets();
    return this.latest;
  }

  private async observeOffsets(): Promise<void> {
    try {
      const offsets = await this.admin.fetchTopicOffsets(this.options.topic);
      const at = stamp();
      this.sink({
        f: 'hwm',
        type: 'ok',
        process: name,
        offsets: Object.fromEntries(offsets.map((entry) => [entry.partition, Number(entry.high)])),
        ...at,
      });
    } catch {
      // as above
    }
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

  async stop(): Promise<void> {
    this.stopping = true;
    await this.loop;
    await this.admin.disconnect().catch(() => undefined);
  }
}

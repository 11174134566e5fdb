// What the nemesis can do to a cluster, whichever way it runs (local processes or containers).

import type { Cut, FaultKind } from '../scheduler.js';
import type { ClientSecurity } from '../security.js';

export interface ChaosCluster {
  readonly nodeCount: number;
  /** Kafka bootstrap servers for clients. */
  readonly bootstrap: string;
  /** The fault kinds this cluster can inject. */
  readonly supported: ReadonlySet<FaultKind>;
  /** The node whose wall clock can jump (it runs under faketime), if any. */
  readonly clockNode: number | undefined;
  /** What clients need to connect when security is on (after `start`); undefined: PLAINTEXT. */
  readonly clientSecurity: ClientSecurity | undefined;
  /** The clients' librdkafka settings as a properties file (empty with PLAINTEXT), after `start`. */
  readonly clientPropertiesFile: string | undefined;
  /** Called with a line for the history when a node exits by itself (a crash), and so on. */
  onNote: (text: string) => void;

  start(): Promise<void>;
  isRunning(node: number): boolean;
  /** kill -9; the node stays down until `restart`. */
  kill(node: number): Promise<void>;
  restart(node: number): Promise<void>;
  pause(node: number): Promise<void>;
  resume(node: number): Promise<void>;
  cut(cut: Cut): Promise<void>;
  lossy(node: number, percent: number): Promise<void>;
  slow(node: number, rateKbit: number): Promise<void>;
  healNetwork(): Promise<void>;
  fillDisk(node: number): Promise<void>;
  freeDisk(node: number): Promise<void>;
  jumpClock(node: number, seconds: number): Promise<void>;
  /** Ends every fault: network healed, nodes resumed and restarted, disks freed, clocks right. */
  healAll(): Promise<void>;
  close(): Promise<void>;
}

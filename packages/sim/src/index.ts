export { SimDisk } from './disk.js';
export { HEALTHY_NETWORK, type NetworkFaults, SimNetwork } from './network.js';
export { nextDigest, payloadKey, RaftSafetyChecker, SafetyViolation } from './raft-checker.js';
export {
  type RaftSimOptions,
  type RaftSimResult,
  RaftSimulation,
  runRaftSimulation,
} from './raft-cluster.js';
export type { SimReplicaParts } from './replication-broker.js';
export {
  type ReplicationSimOptions,
  type ReplicationSimResult,
  ReplicationSimulation,
  runReplicationSimulation,
} from './replication-cluster.js';
export { SimScheduler } from './scheduler.js';

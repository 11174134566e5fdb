export {
  brokersMax,
  type StartClusterOptions,
  startCluster,
  type TestBroker,
  type TestCluster,
} from './start-cluster.js';

export { type BrokerConfig, brokerConfigFrom, loadBrokerConfig } from './config/broker-config.js';
export { ConfigError } from './config/config-def.js';
export { createLogger, type Logger } from './logging.js';
export { GregorNode, type NodeAddresses } from './node/gregor-node.js';
export { MetaPropertiesError } from './node/meta-properties.js';

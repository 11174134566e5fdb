export * from './messages.js';
export * from './transaction-coordinator.js';
export * from './transaction-records.js';

export * from './config.js';
export * from './consumer-subscription.js';
export * from './deadline-queue.js';
export * from './group.js';
export * from './group-coordinator.js';
export * from './java-hash.js';
export * from './messages.js';
export * from './offsets-records.js';
export { randomUuidString } from './random.js';

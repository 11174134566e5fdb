export * from './deadline-queue.js';
export * from './invariant.js';
export * from './java-hash.js';
export * from './offsets-records.js';
export { type Random, randomUuidString } from './random.js';

export * from './divergence.js';
export * from './invariant.js';
export * from './leader-epoch-cache.js';
export * from './partition.js';
export type { Clock, TimerScheduler } from './time.js';

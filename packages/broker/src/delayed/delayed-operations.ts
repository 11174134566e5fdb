// The purgatory itself is @gregor/replication's DelayedOperations (the simulation parks follower
// fetches and acks=all produces in the same class); the broker gives it Node's timers.

import type { TimerScheduler } from '@gregor/replication';

export { DelayedOperations, delayedOperationsMax, type TimerScheduler } from '@gregor/replication';

export const systemTimerScheduler: TimerScheduler = {
  setTimeout: (callback, delayMs) => setTimeout(callback, delayMs),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

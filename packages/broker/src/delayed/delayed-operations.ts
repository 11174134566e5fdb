// The purgatory itself is @gregor/replication's DelayedOperations (the simulation parks follower
// fetches and acks=all produces in the same class); the broker gives it Node's timers.

export { DelayedOperations, delayedOperationsMax } from '@gregor/replication';

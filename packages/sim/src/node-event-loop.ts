// The one file of the simulation that touches Node's event loop, and the one file of packages/sim
// that the pure-folder lint rules (no clock, timers, process or randomness) leave out: the
// replication simulation runs production modules built on promises, so after each simulated event it
// waits until the continuations that event started have run. Neither function reads the time or
// delays anything: the order in which continuations run is V8's and Node's, the same every run.

/**
 * Resolves once every promise continuation the last event started has run: Node runs the tick queue
 * only after V8 has drained the whole microtask queue, including what the drained continuations
 * queue in turn. Cheaper than a trip through the event loop (`eventLoopTurn`), which a run takes
 * only now and then so that the test runner's own messages get through.
 */
export function drainContinuations(): Promise<void> {
  return new Promise((resolve) => process.nextTick(resolve));
}

/** One trip through Node's event loop: lets I/O callbacks (the test runner's messages) run. */
export function eventLoopTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

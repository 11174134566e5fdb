// For tests of the append path with synchronous writes on: the process's synchronousAppends started
// with an unbounded per-turn budget, so every append of at most 64 KiB is written synchronously
// until the returned stop (a test's appends awaited in one turn would otherwise use up the real
// budget at a point that depends on the machine's speed).

import { appendWriteBudgetDefault } from '../append-write-policy.js';
import { synchronousAppends } from '../synchronous-appends.js';

export function startSynchronousAppendsUnbounded(): () => void {
  if (synchronousAppends.running) throw new Error('synchronous appends are already started');
  synchronousAppends.start({
    synchronousBytesMax: appendWriteBudgetDefault.synchronousBytesMax,
    turnWriteMsMax: Number.POSITIVE_INFINITY,
    turnBytesMax: Number.POSITIVE_INFINITY,
  });
  let stopped = false;
  return () => {
    if (stopped) return;
    stopped = true;
    synchronousAppends.stop();
  };
}

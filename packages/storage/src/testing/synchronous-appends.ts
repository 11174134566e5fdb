// For tests of the append path with synchronous writes on: the process's synchronousAppends started
// without sampling the real event loop (whose load in a test run would switch it at random) and
// made quiet, so every append of at most 64 KiB is written synchronously until the returned stop.

import { appendWritePolicyLimitsDefault } from '../append-write-policy.js';
import { synchronousAppends } from '../synchronous-appends.js';

export function startQuietSynchronousAppends(): () => void {
  synchronousAppends.start(() => () => undefined);
  const windowMs = 100;
  for (
    let endMs = windowMs;
    endMs <= appendWritePolicyLimitsDefault.quietHoldMs + 2 * windowMs;
    endMs += windowMs
  ) {
    synchronousAppends.current.onWindow({ endMs, utilization: 0, lateMs: 0 });
  }
  if (synchronousAppends.current.mode !== 'synchronous')
    throw new Error('synchronous appends did not turn on');
  let stopped = false;
  return () => {
    if (stopped) return;
    stopped = true;
    synchronousAppends.stop();
  };
}

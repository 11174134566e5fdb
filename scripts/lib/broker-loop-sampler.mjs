// How long a broker's event loop stops during a benchmark: a preload for the broker processes that
// appends one JSON line per second to $BROKER_LOOP_DIR/<pid>.jsonl (default /tmp/broker-loop) with
// the longest event-loop delay of that second (monitorEventLoopDelay, 5 ms resolution), the loop's
// utilization, the process's CPU ms, and, in a build whose storage exports `synchronousAppends`
// (sessions s16 and s20 tried them, commits 8f524f0/3fcde3c and ae5b91c, neither kept: replication
// README), what it did: s16's append write mode at the sample and the policy's switches so far, or
// s20's counts since the start (appends written synchronously, those sent to the thread pool
// because their turn's budget was used, the turns that used it). Not a test.
//
// Usage (the bench's brokers take extra Node flags from BENCH_NODE_ARGS):
//   BENCH_NODE_ARGS=--import=./scripts/lib/broker-loop-sampler.mjs BENCH_KILLS=0 \
//     node scripts/bench-replication.mjs
// then `node scripts/lib/broker-loop-summary.mjs /tmp/broker-loop` for the percentiles over all
// brokers' seconds.

import { appendFileSync, mkdirSync } from 'node:fs';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';

const dir = process.env.BROKER_LOOP_DIR ?? '/tmp/broker-loop';
mkdirSync(dir, { recursive: true });
const file = `${dir}/${process.pid}.jsonl`;
const write = (record) => appendFileSync(file, `${JSON.stringify(record)}\n`);
write({ start: Date.now(), argv: process.argv.slice(1) });

/** storage's synchronousAppends, when this build has it (loaded lazily: the broker imports it too). */
let appends;
import('@gregor/storage')
  .then((storage) => {
    appends = storage.synchronousAppends;
  })
  .catch(() => undefined);

const delay = monitorEventLoopDelay({ resolution: 5 });
delay.enable();
let lastUtilization = performance.eventLoopUtilization();
let lastCpu = process.cpuUsage();

setInterval(() => {
  const utilization = performance.eventLoopUtilization();
  const cpu = process.cpuUsage();
  const policy = appends?.running ? appends.current : undefined;
  const counts = appends?.running ? appends.counts : undefined;
  write({
    t: Date.now(),
    loopDelayMaxMs: Math.round(delay.max / 1e5) / 10,
    elu: Math.round(performance.eventLoopUtilization(utilization, lastUtilization).utilization * 1000) / 1000,
    cpuMs: Math.round((cpu.user - lastCpu.user + cpu.system - lastCpu.system) / 1000),
    mode: policy?.mode,
    switches: policy?.switches,
    appends: counts?.turnsExhausted === undefined ? undefined : counts,
  });
  delay.reset();
  lastUtilization = utilization;
  lastCpu = cpu;
}, 1_000).unref();

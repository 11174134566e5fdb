// What holds a broker's memory during a benchmark: a preload for the broker processes that appends
// one JSON line every 500 ms to $BROKER_MEMORY_DIR/<pid>.jsonl (default /tmp/broker-memory) with
// process.memoryUsage(), V8's heap spaces (size and in use), /proc/self/smaps_rollup and the
// resident size of malloc's main heap ([heap] in /proc/self/smaps), and one line per mark-compact
// with arrayBuffers, external and heapUsed just after it. Figures in MB (10^6 bytes), not a test.
//
// Usage (the bench's brokers take extra Node flags from BENCH_NODE_ARGS):
//   BENCH_NODE_ARGS=--import=./scripts/lib/broker-memory-sampler.mjs BENCH_KILLS=0 \
//     node scripts/bench-replication.mjs
// The first line of each file has the broker's argv (its config path names the node). Reading
// /proc/self/smaps costs the broker about a millisecond per sample.

import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { PerformanceObserver, constants as perfConstants } from 'node:perf_hooks';
import { getHeapSpaceStatistics } from 'node:v8';

const sampleIntervalMs = 500;
const dir = process.env.BROKER_MEMORY_DIR ?? '/tmp/broker-memory';
mkdirSync(dir, { recursive: true });
const file = `${dir}/${process.pid}.jsonl`;
const mb = (bytes) => Math.round(bytes / 1e5) / 10;
const write = (record) => appendFileSync(file, `${JSON.stringify(record)}\n`);

write({ start: Date.now(), argv: process.argv.slice(1) });

/** smaps_rollup's fields in MB: Rss, Pss, Anonymous, ... */
function smapsRollup() {
  const fields = {};
  for (const line of readFileSync('/proc/self/smaps_rollup', 'utf8').split('\n')) {
    const match = /^(\w+):\s+(\d+) kB/.exec(line);
    if (match) fields[match[1]] = mb(Number(match[2]) * 1024);
  }
  return fields;
}

/** Resident MB of malloc's main heap, the [heap] mapping. */
function mallocMainHeap() {
  const smaps = readFileSync('/proc/self/smaps', 'utf8');
  const at = smaps.indexOf('[heap]');
  if (at < 0) return 0;
  const rss = /Rss:\s+(\d+) kB/.exec(smaps.slice(at));
  return rss ? mb(Number(rss[1]) * 1024) : 0;
}

setInterval(() => {
  const usage = process.memoryUsage();
  const spaces = {};
  for (const space of getHeapSpaceStatistics()) {
    spaces[space.space_name.replace('_space', '')] = [mb(space.space_size), mb(space.space_used_size)];
  }
  const rollup = smapsRollup();
  write({
    t: Date.now(),
    rss: mb(usage.rss),
    heapTotal: mb(usage.heapTotal),
    heapUsed: mb(usage.heapUsed),
    external: mb(usage.external),
    arrayBuffers: mb(usage.arrayBuffers),
    spaces,
    anon: rollup.Anonymous,
    pss: rollup.Pss,
    rollRss: rollup.Rss,
    mallocHeap: mallocMainHeap(),
  });
}, sampleIntervalMs).unref();

new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    if (entry.detail?.kind !== perfConstants.NODE_PERFORMANCE_GC_MAJOR) continue;
    const usage = process.memoryUsage();
    write({
      gc: 'major',
      t: Date.now(),
      ms: Math.round(entry.duration),
      arrayBuffers: mb(usage.arrayBuffers),
      external: mb(usage.external),
      heapUsed: mb(usage.heapUsed),
    });
  }
}).observe({ entryTypes: ['gc'] });

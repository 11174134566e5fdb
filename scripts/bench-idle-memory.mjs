#!/usr/bin/env node
// What an idle broker holds: starts a throwaway cluster (scripts/lib/bench-cluster.mjs, default
// settings, no topics, no clients), and once every broker lists every other one as live reads each
// broker's /proc/<pid>/smaps, broken down by what maps it, and its process.memoryUsage() and V8 heap
// spaces (scripts/lib/broker-memory-sampler.mjs, preloaded), then again after IDLE_SECONDS of
// nothing. Figures in MiB (2^20 bytes, as /proc reports kB). Not a test: it prints a JSON line per
// sample and a table, and asserts nothing.
//
// Usage: node scripts/bench-idle-memory.mjs          (after npm run build)
//        IDLE_NODES=1 IDLE_SECONDS=60 node scripts/bench-idle-memory.mjs
//        BENCH_NODE_ARGS=--heapsnapshot-signal=SIGUSR2 IDLE_HOLD_SECONDS=60 ...  time to take a heap
//          snapshot (kill -USR2 <pid>; the file lands in the current directory)
//
// smaps categories: the `node` binary's file pages (code, shared between processes of one binary),
// other shared libraries and native addons (.so, .node), malloc's main heap ([heap]), glibc's thread
// arenas (anonymous mappings at a 64 MiB boundary that, with the reserved ---p part after them, make
// 64 MiB), thread stacks (an anonymous rw-p mapping right after a 4 KiB guard page), anonymous
// executable mappings (V8's code space), and the other anonymous mappings (V8's heap pages, large
// Buffers and malloc's own mmap()s).

import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const here = resolve(fileURLToPath(new URL('.', import.meta.url)));
const nodeCount = Number(process.env.IDLE_NODES ?? 3);
const idleSeconds = Number(process.env.IDLE_SECONDS ?? 60);
const holdSeconds = Number(process.env.IDLE_HOLD_SECONDS ?? 0);
const samplerDir = join(tmpdir(), `gregor-idle-memory-${process.pid}`);
process.env.BROKER_MEMORY_DIR = samplerDir;
process.env.BENCH_NODE_ARGS = [
  `--import=${join(here, 'lib', 'broker-memory-sampler.mjs')}`,
  process.env.BENCH_NODE_ARGS ?? '',
].join(' ');
const { BenchCluster } = await import('./lib/bench-cluster.mjs');

const mib = (kib) => Math.round(kib / 102.4) / 10;
const arenaBytes = 64n << 20n;
const guardPageBytes = 4096n;

/** Resident KiB of a process's mappings by category. @param {number} pid */
function smapsBreakdown(pid) {
  const mappings = [];
  let current;
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const header = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (header) {
      current = {
        start: BigInt(`0x${header[1]}`),
        end: BigInt(`0x${header[2]}`),
        perms: header[3],
        path: header[4],
        rss: 0,
      };
      mappings.push(current);
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss && current) current.rss = Number(rss[1]);
  }
  const kib = {};
  const add = (category, value) => {
    kib[category] = (kib[category] ?? 0) + value;
  };
  let arenas = 0;
  let stacks = 0;
  for (const [i, m] of mappings.entries()) {
    const next = mappings[i + 1];
    const previous = mappings[i - 1];
    if (m.path === '[heap]') add('malloc [heap]', m.rss);
    else if (m.path.startsWith('[')) add('[stack], [vdso], ...', m.rss);
    else if (/\/node$/.test(m.path)) add('node binary', m.rss);
    else if (m.path.endsWith('.node') || m.path.includes('.so')) add('.so and .node', m.rss);
    else if (m.path !== '') add('other files', m.rss);
    else if (
      m.start % arenaBytes === 0n &&
      m.perms === 'rw-p' &&
      (m.end - m.start === arenaBytes ||
        (next?.start === m.end && next.perms === '---p' && next.end - m.start === arenaBytes))
    ) {
      add('malloc arenas', m.rss);
      arenas++;
    } else if (
      m.perms === 'rw-p' &&
      previous?.end === m.start &&
      previous.perms === '---p' &&
      previous.end - previous.start === guardPageBytes
    ) {
      add('thread stacks', m.rss);
      stacks++;
    } else if (m.perms.includes('x')) add('anonymous executable (V8 code)', m.rss);
    else add('other anonymous (V8 heap, large Buffers, mmap)', m.rss);
  }
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return {
    VmRSS: mib(field('VmRSS')),
    RssFile: mib(field('RssFile')),
    RssAnon: mib(field('RssAnon')),
    ...Object.fromEntries(Object.entries(kib).map(([category, value]) => [category, mib(value)])),
    arenas,
    threads: readdirSync(`/proc/${pid}/task`).length,
    stacks,
  };
}

/** The sampler's last line for a broker (MB, 10^6 bytes). @param {number} pid */
function v8Figures(pid) {
  try {
    const lines = readFileSync(join(samplerDir, `${pid}.jsonl`), 'utf8')
      .trim()
      .split('\n');
    const last = lines.reverse().find((line) => line.includes('"heapTotal"'));
    if (last === undefined) return {};
    const { rss, heapTotal, heapUsed, external, arrayBuffers, spaces } = JSON.parse(last);
    return {
      rss,
      heapTotal,
      heapUsed,
      external,
      arrayBuffers,
      old: spaces.old,
      new: spaces.new,
      code: spaces.code,
    };
  } catch {
    return {};
  }
}

const startedAt = Date.now();
const cluster = await BenchCluster.start({ nodeCount });
const readyMs = Date.now() - startedAt;
const samples = [];
const sample = (label) => {
  for (const node of cluster.nodes) {
    const pid = node.child.pid;
    const row = { label, node: node.id, pid, readyMs, smaps: smapsBreakdown(pid), v8: v8Figures(pid) };
    samples.push(row);
    console.log(JSON.stringify(row));
  }
};
try {
  await sleep(1_500); // a sampler line after ready
  sample('ready');
  if (holdSeconds > 0) {
    console.error(`holding ${holdSeconds} s: pids ${cluster.nodes.map((node) => node.child.pid).join(' ')}`);
    await sleep(holdSeconds * 1000);
  }
  await sleep(idleSeconds * 1000);
  sample(`idle ${idleSeconds} s`);
} finally {
  await cluster.close();
  rmSync(samplerDir, { recursive: true, force: true });
}

const categories = [...new Set(samples.flatMap((row) => Object.keys(row.smaps)))];
const header = ['', ...samples.map((row) => `${row.label} n${row.node}`)];
const table = [
  header,
  ...categories.map((category) => [category, ...samples.map((row) => String(row.smaps[category] ?? 0))]),
  ...['heapTotal', 'heapUsed', 'external', 'arrayBuffers'].map((key) => [
    `V8 ${key} (MB)`,
    ...samples.map((row) => String(row.v8[key] ?? '')),
  ]),
];
for (const line of table)
  console.error(line.map((cell, i) => (i === 0 ? cell.padEnd(48) : cell.padStart(12))).join(''));

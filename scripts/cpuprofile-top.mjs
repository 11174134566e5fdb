#!/usr/bin/env node
// Self time of a V8 .cpuprofile (node --cpu-prof), per function and per category, as text tables.
//
// Usage: node scripts/cpuprofile-top.mjs <file.cpuprofile> [more files...] [--top=30] [--markdown]
//        [--from-ms=N] [--to-ms=N]
//   Several files are summed (e.g. both followers). --from-ms/--to-ms keep only the samples in that
//   window of the profile (milliseconds from its start), e.g. to leave out start-up.
//   --roles  also splits the busy time by the nearest frame on the sampled stack that belongs to
//   one side of replication: "leader" (Produce handling, the leader's appends, serving a follower
//   fetch, grpc-js's server side), "follower" (the ReplicaFetcher, applying a fetch, grpc-js's
//   client side) or neither ("unattributed": the event loop, GC, (program), and continuations
//   resumed from the microtask queue, whose stack no longer shows who awaited).
//   --callers=NAME  also prints, for the functions named NAME, their self time by call path (the
//   five frames above them), e.g. --callers=writeBuffer to tell a socket write from a file write.
//
// Self time of a sample is the time to the next sample (Chrome DevTools' convention). Percentages
// are of the busy time: every sample except "(idle)" (the event loop waiting in epoll). Categories,
// by the function's script URL:
//   ours: <package>     packages/<package>/dist (and scripts/ for the benchmarks' own code)
//   grpc-js             node_modules/@grpc/grpc-js
//   protobufjs          node_modules/protobufjs, @grpc/proto-loader, long, lodash.camelcase
//   node: <module>      node:internal/... grouped as http2, streams, fs, net, timers, promises,
//                       buffer, other
//   other node_modules  any other package
//   native / builtin    no URL: V8 builtins and C++ called from JavaScript (e.g. writev, Buffer copy)
//   (garbage collector), (program), (idle)   V8's own pseudo-frames: GC on the main thread, time in
//                       native code outside any JavaScript frame (libuv callbacks, nghttp2, ...),
//                       and waiting.
// Only the main thread is sampled: the thread pool (fs writes), V8's compiler and concurrent GC
// threads are not in a .cpuprofile.
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const files = args.filter((a) => !a.startsWith('--'));
const option = (name, fallback) => {
  const hit = args.find((a) => a.startsWith(`--${name}=`));
  return hit === undefined ? fallback : Number(hit.slice(name.length + 3));
};
const top = option('top', 30);
const fromMs = option('from-ms', 0);
const toMs = option('to-ms', Number.POSITIVE_INFINITY);
const markdown = args.includes('--markdown');
const roles = args.includes('--roles');
const leaderMarks = [
  '/follower-fetch-serving.js',
  '/replica-fetch-host.js',
  '/apis/produce.js',
  '/leader-appends.js',
  '/request-router.js',
  '/network/connection.js',
  '/grpc-js/build/src/server',
];
const followerMarks = [
  '/replication/dist/replica-fetcher.js',
  '/follower-fetch-apply.js',
  '/follower-replicas.js',
  '/grpc-js/build/src/subchannel-call.js',
  '/grpc-js/build/src/retrying-call.js',
  '/grpc-js/build/src/resolving-call.js',
  '/grpc-js/build/src/client',
  '/grpc-js/build/src/call-interface.js',
];
/** @type {Map<string, number>} */
const byRole = new Map();
/** @type {Map<string, Map<string, number>>} function label -> self time, per side */
const byRoleFunction = new Map();
const callersDepth = option('depth', 5);
const callersOf = args.find((a) => a.startsWith('--callers='))?.slice('--callers='.length);
/** @type {Map<string, number>} */
const byCallPath = new Map();
if (files.length === 0) {
  console.error('usage: node scripts/cpuprofile-top.mjs <file.cpuprofile>... [--top=30] [--markdown]');
  process.exit(2);
}

/** @param {string} url @param {string} name */
function categoryOf(url, name) {
  if (name === '(garbage collector)' || name === '(program)' || name === '(idle)' || name === '(root)') {
    return name;
  }
  if (url === '') return 'native / builtin';
  const pkg = /\/packages\/([^/]+)\/dist\//.exec(url);
  if (pkg !== null && !url.includes('node_modules')) return `ours: ${pkg[1]}`;
  if (url.includes('/node_modules/@grpc/grpc-js/')) return 'grpc-js';
  if (/\/node_modules\/(protobufjs|@protobufjs|@grpc\/proto-loader|long|lodash\.camelcase)\//.test(url)) {
    return 'protobufjs';
  }
  if (url.includes('/node_modules/')) {
    const m = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
    return `node_modules: ${m?.[1] ?? '?'}`;
  }
  if (url.startsWith('node:')) {
    const m = url.slice('node:'.length).replace(/^internal\//, '');
    if (m.includes('http2')) return 'node: http2';
    if (m.startsWith('streams') || m === 'stream' || m.startsWith('webstreams')) return 'node: streams';
    if (m.startsWith('fs')) return 'node: fs';
    if (m === 'net' || m.startsWith('stream_base') || m.startsWith('net')) return 'node: net';
    if (m.startsWith('timers') || m === 'timers') return 'node: timers';
    if (
      m.startsWith('process/task_queues') ||
      m.startsWith('process/promises') ||
      m.includes('async_hooks')
    ) {
      return 'node: promises, microtasks';
    }
    if (m.startsWith('buffer') || m === 'buffer') return 'node: buffer';
    if (m === 'events' || m.startsWith('events')) return 'node: events';
    return 'node: other';
  }
  if (url.includes('/scripts/')) return 'ours: scripts';
  return 'other';
}

/** @param {string} url */
function shortUrl(url) {
  if (url === '') return '';
  const pkg = /\/packages\/(.+)$/.exec(url);
  if (pkg !== null && !url.includes('node_modules')) return pkg[1];
  const nm = /.*\/node_modules\/(.+)$/.exec(url);
  if (nm !== null) return nm[1];
  const sc = /\/(scripts\/.+)$/.exec(url);
  if (sc !== null) return sc[1];
  return url.replace(/^node:internal\//, 'node:');
}

/** @type {Map<string, {name: string, where: string, category: string, us: number, samples: number}>} */
const byFunction = new Map();
/** @type {Map<string, number>} */
const byCategory = new Map();
let totalUs = 0;
let idleUs = 0;
let spanUs = 0;

for (const file of files) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  /** @type {Map<number, any>} */
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  /** @type {Map<number, number>} */
  const parentOf = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id);
  const { samples, timeDeltas } = profile;
  let t = 0;
  let fileUs = 0;
  for (let i = 0; i < samples.length; i++) {
    t += timeDeltas[i];
    const us = i + 1 < timeDeltas.length ? timeDeltas[i + 1] : 0;
    if (us <= 0) continue;
    if (t < fromMs * 1000 || t > toMs * 1000) continue;
    fileUs += us;
    const node = nodes.get(samples[i]);
    const { functionName, url, lineNumber } = node.callFrame;
    const name = functionName === '' ? '(anonymous)' : functionName;
    const category = categoryOf(url, name);
    byCategory.set(category, (byCategory.get(category) ?? 0) + us);
    totalUs += us;
    if (name === '(idle)') idleUs += us;
    if (roles) {
      let role = 'unattributed';
      for (let id = node.id; id !== undefined; id = parentOf.get(id)) {
        const frameUrl = nodes.get(id).callFrame.url;
        if (leaderMarks.some((mark) => frameUrl.includes(mark))) {
          role = 'leader';
          break;
        }
        if (followerMarks.some((mark) => frameUrl.includes(mark))) {
          role = 'follower';
          break;
        }
      }
      if (name !== '(idle)') {
        byRole.set(role, (byRole.get(role) ?? 0) + us);
        let functionsOfRole = byRoleFunction.get(role);
        if (functionsOfRole === undefined) {
          functionsOfRole = new Map();
          byRoleFunction.set(role, functionsOfRole);
        }
        const label = url === '' ? name : `${name} ${shortUrl(url)}:${lineNumber + 1}`;
        functionsOfRole.set(label, (functionsOfRole.get(label) ?? 0) + us);
      }
    }
    if (callersOf !== undefined && name === callersOf) {
      const path = [];
      for (
        let id = parentOf.get(node.id);
        id !== undefined && path.length < callersDepth;
        id = parentOf.get(id)
      ) {
        const frame = nodes.get(id).callFrame;
        path.push(`${frame.functionName || '(anonymous)'} ${shortUrl(frame.url)}:${frame.lineNumber + 1}`);
      }
      const pathKey = path.join(' < ');
      byCallPath.set(pathKey, (byCallPath.get(pathKey) ?? 0) + us);
    }
    const key = `${name}\u0000${url}\u0000${lineNumber}`;
    let entry = byFunction.get(key);
    if (entry === undefined) {
      const where = url === '' ? '' : `${shortUrl(url)}:${lineNumber + 1}`;
      entry = { name, where, category, us: 0, samples: 0 };
      byFunction.set(key, entry);
    }
    entry.us += us;
    entry.samples += 1;
  }
  spanUs += fileUs;
}

const busyUs = totalUs - idleUs;
const pct = (us, of) => ((100 * us) / of).toFixed(1);
const ms = (us) => (us / 1000).toFixed(0);

console.log(
  `${files.length} profile(s): ${ms(spanUs)} ms sampled, ${ms(busyUs)} ms busy (${pct(busyUs, totalUs)}%), ${ms(idleUs)} ms idle`,
);
console.log('');
const categories = [...byCategory].filter(([c]) => c !== '(idle)').sort((a, b) => b[1] - a[1]);
const functions = [...byFunction.values()].filter((f) => f.name !== '(idle)').sort((a, b) => b.us - a.us);
if (markdown) {
  console.log('| category | ms | % of busy |');
  console.log('| --- | ---: | ---: |');
  for (const [c, us] of categories) console.log(`| ${c} | ${ms(us)} | ${pct(us, busyUs)} |`);
  console.log('');
  console.log('| # | function | where | category | % of busy |');
  console.log('| ---: | --- | --- | --- | ---: |');
  functions.slice(0, top).forEach((f, i) => {
    console.log(`| ${i + 1} | \`${f.name}\` | ${f.where} | ${f.category} | ${pct(f.us, busyUs)} |`);
  });
} else {
  console.log('category                          ms  % busy');
  for (const [c, us] of categories) {
    console.log(`${c.padEnd(30)} ${ms(us).padStart(6)}  ${pct(us, busyUs).padStart(5)}`);
  }
  console.log('');
  console.log('  #  % busy  function                                   where  [category]');
  functions.slice(0, top).forEach((f, i) => {
    console.log(
      `${String(i + 1).padStart(3)}  ${pct(f.us, busyUs).padStart(5)}  ${f.name.slice(0, 40).padEnd(40)}  ${f.where}  [${f.category}]`,
    );
  });
}
if (callersOf !== undefined) {
  console.log('');
  console.log(`${callersOf}: % of busy by caller (nearest first)`);
  for (const [path, us] of [...byCallPath].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${pct(us, busyUs).padStart(5)}  ${path}`);
  }
}
if (roles) {
  console.log('');
  console.log('busy time by side of replication (nearest marked frame on the stack)');
  for (const [role, us] of [...byRole].sort((a, b) => b[1] - a[1])) {
    console.log(`${role.padEnd(14)} ${ms(us).padStart(6)} ms  ${pct(us, busyUs).padStart(5)}%`);
  }
  for (const [role, functionsOfRole] of byRoleFunction) {
    if (role === 'unattributed') continue;
    console.log('');
    console.log(`${role}: top functions, % of all busy time`);
    for (const [label, us] of [...functionsOfRole].sort((a, b) => b[1] - a[1]).slice(0, top)) {
      console.log(`${pct(us, busyUs).padStart(5)}  ${label}`);
    }
  }
}

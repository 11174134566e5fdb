#!/usr/bin/env node
// Broker CPU per Produce request of one client alone against one broker process, without and then
// with a request_percentage quota: what the broker really spends on a client held at its quota,
// against what request_percentage counts. The client is one of bench:quotas' workers (librdkafka,
// kafkajs or gregor) sending 100 B records one per send for the given seconds; broker CPU is the
// process's user + system time from /proc (Linux only), so it includes GC, libuv and the threads
// that write to disk. Figures, not a test: nothing is asserted.
//
// Usage: node scripts/bench-request-cpu.mjs [library=gregor] [request_percentage=5] [seconds=25]
//        (after npm run build)
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiKey } from '../packages/protocol/dist/index.js';
import { BenchCluster } from './lib/bench-cluster.mjs';
import { createTopic, openConnection } from './lib/bench-producer.mjs';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const library = process.argv[2] ?? 'gregor';
const percentage = Number(process.argv[3] ?? 5);
const seconds = Number(process.argv[4] ?? 25);
const cluster = await BenchCluster.start({
  nodeCount: 1,
  properties: { 'num.partitions': '3', 'quota.window.num': '11', 'quota.window.size.seconds': '1' },
});
const bootstrap = cluster.node(1).address;
const pid = cluster.node(1).child.pid;
const cpuMs = () => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
};
const admin = await openConnection(bootstrap);
function run(clientId) {
  const cmd = {
    role: 'produce',
    bootstrap,
    topic: clientId,
    clientId,
    seconds,
    valueBytes: 100,
    recordsPerSend: 1,
    lingerMs: 0,
    recordsPerBatch: 1,
  };
  const [file, args, env] =
    library === 'librdkafka'
      ? [
          '/usr/bin/python3',
          [join(root, 'scripts/lib/quota_client.py'), JSON.stringify(cmd)],
          { ...process.env, LD_LIBRARY_PATH: join(root, '.cache/librdkafka/2.15.1/lib') },
        ]
      : [
          process.execPath,
          [join(root, 'scripts/lib/quota-client.mjs'), JSON.stringify({ ...cmd, library })],
          process.env,
        ];
  return new Promise((ok, fail) =>
    execFile(file, args, { env, maxBuffer: 1 << 20 }, (e, out, err) =>
      e ? fail(new Error(err)) : ok(JSON.parse(out.trim().split('\n').at(-1))),
    ),
  );
}
try {
  await new Promise((r) => setTimeout(r, 2000));
  let c0 = cpuMs();
  await new Promise((r) => setTimeout(r, 5000));
  console.log(`idle broker CPU: ${((cpuMs() - c0) / 50).toFixed(1)}%`);
  for (const quota of [false, true]) {
    const clientId = `${library}-${quota ? 'q' : 'free'}`;
    if (quota) {
      const r = await admin.call(
        ApiKey.AlterClientQuotas,
        1,
        {
          entries: [
            {
              entity: [{ entityType: 'client-id', entityName: clientId }],
              ops: [{ key: 'request_percentage', value: percentage, remove: false }],
            },
          ],
          validateOnly: false,
        },
        10000,
      );
      if (r.entries[0].errorCode !== 0) throw new Error('quota');
    }
    await createTopic(admin, clientId, 3, 1);
    c0 = cpuMs();
    const report = await run(clientId);
    const cpu = cpuMs() - c0;
    const late =
      report.buckets.slice(11).reduce((a, b) => a + b, 0) / 100 / Math.max(1, report.buckets.length - 11);
    console.log(
      `${library} ${quota ? `request_percentage=${percentage}` : 'no quota'}: ${Math.round(report.requests / seconds)} req/s, ${Math.round(report.totalBytes / 100 / seconds)} records/s (${Math.round(late)} after 11 s), broker CPU ${(cpu / seconds / 10).toFixed(1)}% over the run, ${((cpu * 1000) / report.requests).toFixed(0)} µs CPU/request, throttled ${report.throttle.count}`,
    );
  }
} finally {
  admin.close();
  await cluster.close();
}

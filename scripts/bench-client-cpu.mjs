#!/usr/bin/env node
// The CPU Gregor's client spends on the produce path (issue #16): CPU time, not wall time, so the
// figures hold on a machine whose cores other work shares. One Gregor broker process (its CPU is
// not counted); each run is a fresh Node process of the client that sends the producer cells of
// `npm run bench:client` with its defaults (sends of 100 records, 20 sends in flight, no keys, no
// compression, the producer's defaults) and prints its own process.cpuUsage() (user + system) over
// the cell, from the first send to the last acknowledgement, per record and per Produce request
// (counted from the producer's network request events). Each cell goes to a fresh topic of three
// partitions; the topic's offsets are checked to hold exactly the records sent.
//
// Usage (after npm run build):
//   node scripts/bench-client-cpu.mjs [--runs 5] [--client <dist/index.js>]... [--cpu-prof <dir>]
//     --client   a client build to measure (default packages/client/dist/index.js); given twice or
//                more, the runs alternate between them (before/after a change: copy the old dist
//                under .cache/, which resolves the same node_modules) and the medians are printed
//     --runs     runs per client (default 1); the medians over them are printed at the end
//     --cpu-prof the client process is run with node --cpu-prof, its profiles written to <dir>
//     --records  records of the 100 B cells (default 200,000; the 1 KiB cells send a quarter)

import { spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const recordsPerSend = 100;
const sendsInFlight = 20;
const partitions = 3;
const valueBytesCells = [100, 1024];
const acksCells = [1, -1];
/** How long the high watermark may take to reach the records acknowledged. */
const storedWaitMsMax = 30_000;

const { values: options } = parseArgs({
  options: {
    child: { type: 'boolean', default: false },
    bootstrap: { type: 'string' },
    client: { type: 'string', multiple: true },
    runs: { type: 'string', default: '1' },
    records: { type: 'string', default: '200000' },
    'cpu-prof': { type: 'string' },
    tag: { type: 'string', default: '' },
  },
});

const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

/** One client process: the four producer cells, one JSON line of figures per cell. */
async function child() {
  const { Kafka, logLevel } = await import(pathToFileURL(resolve(options.client[0])).href);
  const bootstrap = options.bootstrap.split(',');
  const kafka = new Kafka({ brokers: bootstrap, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const records100 = Number(options.records);
  for (const valueBytes of valueBytesCells) {
    const count = valueBytes === 100 ? records100 : Math.floor(records100 / 4);
    // A pool of random values, reused: the client pays for sending, not for making records.
    const pool = Array.from({ length: 1_000 }, (_, index) =>
      Buffer.alloc(valueBytes, String.fromCharCode(97 + (index % 26))),
    );
    for (const acks of acksCells) {
      const topic = `cpu-${options.tag}-${valueBytes}-${acks === -1 ? 'all' : acks}-${Date.now()}`;
      await admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }] });
      const producer = kafka.producer();
      let produceRequests = 0;
      producer.on(producer.events.REQUEST, ({ payload }) => {
        if (payload.apiName === 'Produce') produceRequests++;
      });
      await producer.connect();
      // Metadata and the producer id before the measured part, as bench:client's connect.
      await producer.send({ topic, acks, messages: [{ value: pool[0] }] });
      produceRequests = 0;
      const cpuBefore = process.cpuUsage();
      const started = performance.now();
      for (let start = 0; start < count; start += recordsPerSend * sendsInFlight) {
        const window = [];
        for (let send = 0; send < sendsInFlight && start + send * recordsPerSend < count; send++) {
          const from = start + send * recordsPerSend;
          const messages = [];
          for (let index = from; index < Math.min(from + recordsPerSend, count); index++)
            messages.push({ value: pool[index % pool.length] });
          window.push(producer.send({ topic, acks, messages }));
        }
        await Promise.all(window);
      }
      const cpu = process.cpuUsage(cpuBefore);
      const seconds = (performance.now() - started) / 1000;
      await producer.disconnect();
      const deadline = performance.now() + storedWaitMsMax;
      for (;;) {
        const offsets = await admin.fetchTopicOffsets(topic);
        const stored = offsets.reduce((sum, { high, low }) => sum + Number(high) - Number(low), 0);
        if (stored === count + 1) break;
        if (stored > count + 1 || performance.now() > deadline)
          throw new Error(`${topic} holds ${stored} records, ${count + 1} were sent`);
        await sleep(100);
      }
      const cpuUs = cpu.user + cpu.system;
      console.log(
        JSON.stringify({
          cell: `${valueBytes} B acks=${acks === -1 ? 'all' : acks}`,
          records: count,
          produceRequests,
          cpuUsPerRecord: cpuUs / count,
          cpuUsPerRequest: cpuUs / produceRequests,
          userShare: cpu.user / cpuUs,
          recordsPerCpuSecond: count / (cpuUs / 1e6),
          wallRecordsPerSecond: count / seconds,
        }),
      );
    }
  }
  await admin.disconnect();
}

function runChild(client, bootstrap, run) {
  const args = [];
  if (options['cpu-prof'] !== undefined)
    args.push('--cpu-prof', '--cpu-prof-interval', '250', '--cpu-prof-dir', resolve(options['cpu-prof']));
  args.push(
    fileURLToPath(import.meta.url),
    '--child',
    '--client',
    client,
    '--bootstrap',
    bootstrap.join(','),
  );
  args.push('--records', options.records, '--tag', `r${run}`);
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
    });
    child.on('error', fail);
    child.on('close', (code) => {
      if (code !== 0) fail(new Error(`client process exited with ${code}: ${output}`));
      else
        done(
          output
            .trim()
            .split('\n')
            .map((line) => JSON.parse(line)),
        );
    });
  });
}

const median = (numbers) => {
  const sorted = [...numbers].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

async function main() {
  // Imported here, not at the top: the client processes load only the client.
  const { BenchCluster } = await import('./lib/bench-cluster.mjs');
  const { waitForCluster } = await import('./lib/kafka-probe.mjs');
  const clients = options.client ?? [resolve(repoRoot, 'packages/client/dist/index.js')];
  const runs = Number(options.runs);
  const cluster = await BenchCluster.start({
    nodeCount: 1,
    properties: { 'num.partitions': String(partitions), 'default.replication.factor': '1' },
    readyTimeoutMs: 60_000,
  });
  const bootstrap = cluster.nodes.map((node) => node.address);
  /** results[client][cell] = figures of each run */
  const results = clients.map(() => new Map());
  try {
    await waitForCluster(bootstrap, 1, 60_000);
    for (let run = 1; run <= runs; run++) {
      for (const [index, client] of clients.entries()) {
        const load = loadavg()[0].toFixed(1);
        for (const figures of await runChild(client, bootstrap, `${run}c${index}`)) {
          const list = results[index].get(figures.cell) ?? [];
          list.push(figures);
          results[index].set(figures.cell, list);
          console.log(
            `run ${run} client ${index} ${figures.cell}: ${figures.cpuUsPerRecord.toFixed(2)} us/record, ` +
              `${figures.cpuUsPerRequest.toFixed(0)} us/Produce (${figures.produceRequests} requests), ` +
              `${Math.round(figures.wallRecordsPerSecond)} records/s wall, load ${load}`,
          );
        }
      }
    }
  } finally {
    await cluster.close();
  }
  console.log(
    `\nmedians over ${runs} run(s), load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')} at the end`,
  );
  for (const [index, client] of clients.entries()) {
    console.log(`client ${index}: ${client}`);
    for (const [cell, list] of results[index]) {
      console.log(
        `  ${cell}: ${median(list.map((f) => f.cpuUsPerRecord)).toFixed(2)} us CPU/record, ` +
          `${median(list.map((f) => f.cpuUsPerRequest)).toFixed(0)} us CPU/Produce request, ` +
          `${median(list.map((f) => f.produceRequests))} requests, ` +
          `${Math.round(median(list.map((f) => f.recordsPerCpuSecond)))} records per CPU second`,
      );
    }
  }
}

if (options.child) await child();
else await main();

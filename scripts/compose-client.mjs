// Host-side client steps of scripts/compose-test.sh, against the compose cluster's published
// listeners (localhost:9092-9094), with kafkajs (and kcat to read back):
//
//   node scripts/compose-client.mjs startup <t0-ms>   first acks=all produce acknowledged, timed from t0
//   node scripts/compose-client.mjs chaos             kill -9 the partition leader's container while
//                                                     an acks=all producer runs, start it again, wait
//                                                     until every ISR is full, check nothing
//                                                     acknowledged was lost
//
// Prints one JSON line of figures on success; exits 1 with the reason otherwise. Every wait is bounded.

import { execFileSync } from 'node:child_process';
import { Kafka, logLevel } from 'kafkajs';

const brokers = ['localhost:9092', 'localhost:9093', 'localhost:9094'];
const startupWaitMsMax = 120_000;
const isrWaitMsMax = 120_000;
/** How long the producer runs before the kill, and after the new leader first acknowledges. */
const producePhaseMs = 3_000;
/** How long an unanswered send may take (kafkajs retries inside it) before it counts as failed. */
const sendTimeoutMs = 30_000;
const chaosTopic = 'compose-chaos';

const kafka = new Kafka({
  clientId: 'gregor-compose-test',
  brokers,
  logLevel: logLevel.NOTHING,
  connectionTimeout: 2_000,
  requestTimeout: 10_000,
  retry: { retries: 50, initialRetryTime: 100, maxRetryTime: 1_000 },
});

function fail(message) {
  console.error(`compose-client: ${message}`);
  process.exit(1);
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function docker(...args) {
  return execFileSync('docker', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

/** Sends one record with acks=all; resolves once acknowledged, rejects on error or timeout. */
async function sendAcked(producer, topic, value) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`send of ${value} timed out`)), sendTimeoutMs);
  });
  try {
    await Promise.race([producer.send({ topic, acks: -1, messages: [{ value }] }), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function startup(sinceMs) {
  const deadline = sinceMs + startupWaitMsMax;
  let lastError = 'none';
  while (Date.now() < deadline) {
    const producer = kafka.producer({ allowAutoTopicCreation: true, retry: { retries: 0 } });
    try {
      await producer.connect();
      await sendAcked(producer, 'compose-startup', 'first');
      const elapsedMs = Date.now() - sinceMs;
      console.log(JSON.stringify({ startupMs: elapsedMs }));
      return;
    } catch (error) {
      lastError = error.message;
    } finally {
      await producer.disconnect().catch(() => undefined);
    }
    await sleep(200);
  }
  fail(`no acks=all produce acknowledged within ${startupWaitMsMax} ms (last error: ${lastError})`);
}

async function topicMetadata(admin, topics) {
  const { topics: described } = await admin.fetchTopicMetadata(topics === undefined ? {} : { topics });
  return described;
}

/** Waits until every partition of every topic has its whole replica set in the ISR. */
async function waitIsrsFull(admin) {
  const deadline = Date.now() + isrWaitMsMax;
  let lagging = [];
  while (Date.now() < deadline) {
    try {
      const topics = await topicMetadata(admin);
      lagging = topics.flatMap((topic) =>
        topic.partitions
          .filter((partition) => partition.isr.length < partition.replicas.length || partition.leader < 0)
          .map((partition) => `${topic.name}-${partition.partitionId} isr=${partition.isr}`),
      );
      if (lagging.length === 0) return;
    } catch (error) {
      lagging = [error.message];
    }
    await sleep(250);
  }
  fail(`ISRs not full after ${isrWaitMsMax} ms: ${lagging.slice(0, 10).join('; ')}`);
}

async function chaos() {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    topics: [{ topic: chaosTopic, numPartitions: 1, replicationFactor: 3 }],
    waitForLeaders: true,
  });
  const [described] = await topicMetadata(admin, [chaosTopic]);
  const leaderId = described.partitions[0].leader;
  if (!(leaderId >= 1 && leaderId <= 3)) fail(`no leader for ${chaosTopic}: ${JSON.stringify(described)}`);
  const container = `gregor-${leaderId}`;

  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
  });
  await producer.connect();
  const acknowledged = [];
  const failures = [];
  let killedAtMs;
  let firstAckAfterKillMs;
  let stop = false;
  const producing = (async () => {
    for (let sequence = 0; !stop; sequence++) {
      const value = `record-${sequence}`;
      try {
        await sendAcked(producer, chaosTopic, value);
        acknowledged.push(value);
        if (killedAtMs !== undefined && firstAckAfterKillMs === undefined) firstAckAfterKillMs = Date.now();
      } catch (error) {
        failures.push(`${value}: ${error.message}`);
      }
    }
  })();

  await sleep(producePhaseMs);
  const ackedBeforeKill = acknowledged.length;
  killedAtMs = Date.now();
  docker('kill', container);
  while (firstAckAfterKillMs === undefined && Date.now() - killedAtMs < sendTimeoutMs) await sleep(50);
  if (firstAckAfterKillMs === undefined) fail(`no acks=all produce acknowledged after killing ${container}`);
  await sleep(producePhaseMs);

  const restartedAtMs = Date.now();
  docker('start', container);
  await waitIsrsFull(admin);
  const isrFullAfterStartMs = Date.now() - restartedAtMs;
  await sleep(producePhaseMs / 3);
  stop = true;
  await producing;
  await producer.disconnect();

  // Everything acknowledged must be in the partition, read back by another client.
  const consumed = execFileSync(
    'kcat',
    ['-b', brokers.join(','), '-C', '-t', chaosTopic, '-p', '0', '-o', 'beginning', '-e', '-q', '-f', '%s\n'],
    { encoding: 'utf8', timeout: 60_000, maxBuffer: 256 * 1024 * 1024 },
  )
    .split('\n')
    .filter((line) => line !== '');
  const present = new Set(consumed);
  const lost = acknowledged.filter((value) => !present.has(value));
  const duplicates = consumed.length - present.size;
  const [after] = await topicMetadata(admin, [chaosTopic]);
  await admin.disconnect();
  const figures = {
    killed: container,
    acknowledged: acknowledged.length,
    acknowledgedBeforeKill: ackedBeforeKill,
    failedSends: failures.length,
    consumed: consumed.length,
    lost: lost.length,
    duplicates,
    failoverMs: firstAckAfterKillMs - killedAtMs,
    isrFullAfterStartMs,
    leaderAfter: after.partitions[0].leader,
    isrAfter: after.partitions[0].isr,
  };
  console.log(JSON.stringify(figures));
  if (acknowledged.length <= ackedBeforeKill) fail('nothing was acknowledged after the kill');
  if (lost.length > 0)
    fail(`${lost.length} acknowledged records lost, first: ${lost.slice(0, 5).join(', ')}`);
  if (duplicates > 0) fail(`${duplicates} records duplicated despite the idempotent producer`);
}

const [command, argument] = process.argv.slice(2);
if (command === 'startup') await startup(Number(argument));
else if (command === 'chaos') await chaos();
else fail(`usage: compose-client.mjs startup <t0-ms> | chaos`);

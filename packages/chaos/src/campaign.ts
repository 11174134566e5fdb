// One campaign: start a cluster, run the workloads, inject the scheduled faults until the time is up,
// heal, read everything back, check the history and write the report. The thin, impure part: the
// decisions are in scheduler.ts (what to inject) and checker.ts (what went wrong).

import {
  createReadStream,
  createWriteStream,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { Kafka, logLevel } from 'kafkajs';
import { type CheckResult, HistoryChecker } from './checker.js';
import type { ChaosCluster } from './driver/cluster.js';
import { ComposeCluster } from './driver/compose-cluster.js';
import { LocalCluster } from './driver/local-cluster.js';
import { type FaultEvent, type HistoryEvent, parseHistory } from './history.js';
import { type CampaignOptions, parseOptions } from './options.js';
import { TimelineRecorder, writeReport } from './report.js';
import {
  type FaultKind,
  isPartitionKind,
  ledBy,
  type PlannedChurn,
  type PlannedFault,
  planCut,
  planSchedule,
  resolveTarget,
} from './scheduler.js';
import { describeSecurity, type KafkajsSecurity, kafkajsSecurity, type SecurityMode } from './security.js';
import { KafkajsProducer } from './workload/kafkajs-producer.js';
import { currentLibrdkafkaDir, LibrdkafkaWorker } from './workload/librdkafka.js';
import { Observer } from './workload/observer.js';
import { monoMs, stamp } from './workload/time.js';

export const topic = 'chaos';
export const group = 'chaos-group';
/** The consume-transform-produce member's group. */
export const transformGroup = 'chaos-ctp';
/** Gregor's broker.session.timeout.ms default: pauses are drawn shorter and longer than it. */
const sessionTimeoutMs = 1_500;
const progressIntervalMs = 10_000;
/** How long the cluster may take to be whole again (every node back, every ISR full) between faults. */
const wholeWaitMs = 20_000;
/** After the last fault: how long to wait for a whole cluster before the final read regardless. */
const finalHealWaitMs = 90_000;
/** Producers keep going this long after the cluster is whole again, so the last fault's effects show. */
const afterHealMs = 5_000;
/**
 * The transactional producer runs one transaction a second per this many records a second of
 * `--rate`: 10 a second at the default 500, each of 2 to 6 records.
 */
const recordsPerSecondPerTransaction = 50;
const groupMembersInitial = 3;
const groupMembersMax = 5;

export interface CampaignOutcome {
  readonly reportDir: string;
  readonly result: CheckResult;
  readonly verdict: string;
}

export async function runCampaign(
  options: CampaignOptions,
  say: (line: string) => void,
  stopSignal: AbortSignal,
): Promise<CampaignOutcome> {
  const startedWall = new Date();
  const reportDir = resolve(
    options.resultsDir,
    startedWall
      .toISOString()
      .replaceAll(':', '-')
      .replace(/\.\d+Z$/, 'Z'),
  );
  mkdirSync(join(reportDir, 'logs'), { recursive: true });
  const history = createWriteStream(join(reportDir, 'history.jsonl'));
  const checker = new HistoryChecker();
  const startMonoMs = monoMs();
  const record: CampaignRecord = {
    argv: options.argv,
    startedWall: startedWall.toISOString(),
    startMonoMs,
    librdkafka: currentLibrdkafkaDir(),
    security: options.security,
  };
  writeFileSync(join(reportDir, campaignRecordFile), `${JSON.stringify(record, null, 2)}\n`);
  const timeline = new TimelineRecorder(startMonoMs);
  const sink = (event: HistoryEvent) => {
    history.write(`${JSON.stringify(event)}\n`);
    checker.add(event);
    timeline.add(event);
  };
  const note = (text: string) => sink({ f: 'note', type: 'info', process: 'driver', text, ...stamp() });
  const elapsed = () => formatElapsed(monoMs() - startMonoMs);

  const clockNode = (options.seed % options.nodes) + 1;
  const cluster: ChaosCluster =
    options.target === 'local'
      ? new LocalCluster({
          nodeCount: options.nodes,
          workDir: mkdtempSync(join(tmpdir(), 'gregor-chaos-')),
          logDir: join(reportDir, 'logs'),
          diskMb: options.diskMb,
          clockNode,
          clusterId: `chaos${options.seed}`,
          partitions: options.partitions,
          security: options.security,
          topic,
        })
      : new ComposeCluster({ logDir: join(reportDir, 'logs') });
  cluster.onNote = note;

  const weights = new Map(options.weights);
  const dropped = [...weights.keys()].filter(
    (kind) => !cluster.supported.has(kind) && weights.get(kind)! > 0,
  );
  for (const kind of dropped) weights.delete(kind);
  if (dropped.length > 0) say(`faults this target cannot inject, left out: ${dropped.join(', ')}`);
  if (weights.size === 0)
    throw new Error(`none of the faults asked for (${options.faultSpec}) can be injected here`);
  const schedule = planSchedule({
    seed: options.seed,
    weights,
    faultCountMax: 100_000,
    churnCountMax: 100_000,
    sessionTimeoutMs,
    pace: options.pace,
  });

  say(
    `seed ${options.seed}, ${options.nodes} nodes (${options.target}), ${options.partitions} partitions, ` +
      `${options.durationMs / 1000} s of faults (${[...weights.keys()].join(', ')}), report in ${reportDir}`,
  );
  const workers: LibrdkafkaWorker[] = [];
  const producers: KafkajsProducer[] = [];
  let observer: Observer | undefined;
  let progressTimer: NodeJS.Timeout | undefined;
  let currentFault = 'none';
  let faultsDone = 0;
  let result: CheckResult | undefined;
  try {
    await cluster.start();
    say(
      `cluster starting: ${cluster.bootstrap}${options.security === 'plaintext' ? '' : ` (${describeSecurity(options.security)})`}`,
    );
    const clientSecurity = cluster.clientSecurity;
    const security: KafkajsSecurity | undefined =
      clientSecurity === undefined
        ? undefined
        : kafkajsSecurity(clientSecurity, readFileSync(clientSecurity.caCertificate, 'utf8'));
    const clientConfigFile = clientSecurity === undefined ? undefined : cluster.clientPropertiesFile;
    const secured = {
      ...(security === undefined ? {} : { security }),
    };
    const securedWorker = {
      ...(clientConfigFile === undefined ? {} : { clientConfigFile }),
    };
    observer = new Observer(
      {
        bootstrap: cluster.bootstrap,
        topic,
        group,
        partitions: options.partitions,
        intervalMs: 500,
        ...secured,
      },
      sink,
    );
    await waitFor(
      async () => {
        await observer!.start();
        return true;
      },
      60_000,
      'the cluster to answer',
    );
    await createTopic(cluster.bootstrap, options.partitions, Math.min(3, options.nodes), security);
    if (!(await waitWhole(observer, options, 60_000)))
      throw new Error(`the topic has no full ISR a minute after creation (${describeObserved(observer)})`);
    say(`cluster ready, topic '${topic}' created (${elapsed()})`);

    // Workloads.
    const library = currentLibrdkafkaDir();
    const logDir = join(reportDir, 'logs');
    const producerKinds = (['librdkafka', 'kafkajs', 'acks1'] as const).filter((kind) =>
      options.workloads.has(kind),
    );
    const shares = producerKinds.reduce((sum, kind) => sum + (kind === 'librdkafka' ? 2 : 1), 0);
    const perShare = options.rate / shares;
    if (options.workloads.has('librdkafka')) {
      // Two librdkafka producers: the current release when it is built, and Debian's own.
      for (const [name, libraryDir] of [
        ['rdk-a', library],
        ['rdk-b', undefined],
      ] as const)
        workers.push(
          new LibrdkafkaWorker(
            {
              role: 'produce',
              name,
              bootstrap: cluster.bootstrap,
              topic,
              partitions: options.partitions,
              rate: perShare,
              acks: 'all',
              logDir,
              ...securedWorker,
              ...(libraryDir === undefined ? {} : { libraryDir }),
            },
            sink,
          ),
        );
    }
    for (const [kind, name, acks] of [
      ['kafkajs', 'kjs', 'all'],
      ['acks1', 'kjs-acks1', '1'],
    ] as const) {
      if (!options.workloads.has(kind)) continue;
      const producer = new KafkajsProducer(
        {
          name,
          bootstrap: cluster.bootstrap,
          topic,
          partitions: options.partitions,
          rate: perShare,
          acks,
          ...secured,
        },
        sink,
      );
      await producer.start();
      producers.push(producer);
    }
    const members: LibrdkafkaWorker[] = [];
    let memberCount = 0;
    const newMember = () => {
      memberCount++;
      const member = new LibrdkafkaWorker(
        {
          role: 'group',
          name: `member-${memberCount}`,
          bootstrap: cluster.bootstrap,
          topic,
          partitions: options.partitions,
          group,
          logDir,
          ...securedWorker,
          ...(library === undefined ? {} : { libraryDir: library }),
        },
        sink,
      );
      members.push(member);
      workers.push(member);
    };
    if (options.workloads.has('group')) for (let index = 0; index < groupMembersInitial; index++) newMember();
    if (options.workloads.has('txn'))
      workers.push(
        new LibrdkafkaWorker(
          {
            role: 'txn',
            name: 'txn',
            bootstrap: cluster.bootstrap,
            topic,
            partitions: options.partitions,
            rate: Math.max(1, options.rate / recordsPerSecondPerTransaction),
            seed: options.seed,
            logDir,
            ...securedWorker,
            ...(library === undefined ? {} : { libraryDir: library }),
          },
          sink,
        ),
      );
    if (options.workloads.has('ctp'))
      workers.push(
        new LibrdkafkaWorker(
          {
            role: 'ctp',
            name: 'ctp',
            bootstrap: cluster.bootstrap,
            topic,
            partitions: options.partitions,
            group: transformGroup,
            source: 'txn',
            logDir,
            ...securedWorker,
            ...(library === undefined ? {} : { libraryDir: library }),
          },
          sink,
        ),
      );
    if (options.workloads.has('reader'))
      workers.push(
        new LibrdkafkaWorker(
          {
            role: 'reader',
            name: 'reader',
            bootstrap: cluster.bootstrap,
            topic,
            partitions: options.partitions,
            rereadSeconds: Math.max(45, options.durationMs / 4_000),
            logDir,
            ...securedWorker,
            // The current librdkafka checks leader epochs (KIP-320): Debian's 2.0.2 follows a stale
            // leader's metadata and resets its position to that leader's end.
            ...(library === undefined ? {} : { libraryDir: library }),
          },
          sink,
        ),
      );

    progressTimer = setInterval(() => {
      say(
        `${elapsed()} ops ${checker.opCount().toLocaleString('en-US')}, faults ${faultsDone} (now: ${currentFault}), anomalies ${checker.anomalyCount()}`,
      );
    }, progressIntervalMs);

    const faultsEndMonoMs = monoMs() + options.durationMs;
    const timeLeft = () => faultsEndMonoMs - monoMs();
    // Every enabled kind comes once before any repeats (the scheduler's first round): a campaign
    // goes on past --duration until each has been injected, until --duration-max at most.
    const kindsOnce = new Set(schedule.faults.slice(0, weights.size).map((fault) => fault.kind)).size;
    const injectedKinds = new Set<string>();
    const stopped = () =>
      stopSignal.aborted ||
      timeLeft() <= options.durationMs - options.durationMaxMs ||
      (timeLeft() <= 0 && injectedKinds.size >= kindsOnce);

    // Group churn, alongside the faults.
    const churn = (async () => {
      if (!options.workloads.has('group')) return;
      for (const step of schedule.churn) {
        await sleepUnless(step.afterMs, stopped);
        if (stopped()) return;
        await churnOnce(step, members, newMember, note);
      }
    })();

    for (const fault of schedule.faults) {
      if (stopped()) break;
      if (!(await waitWhole(observer, options, wholeWaitMs)))
        note(`the cluster was not whole ${wholeWaitMs} ms after the last fault; going on`);
      if (stopped()) break;
      const view = (await observer.observe()) ?? observer.view();
      const outcome = await inject(fault, cluster, view, options.nodes, sink);
      if (outcome === undefined) {
        note(`fault ${fault.id} (${fault.kind}) skipped: no node holds its role now`);
        continue;
      }
      currentFault = `${fault.kind} on node ${outcome.target}`;
      await sleepUnless(fault.durationMs, () => stopSignal.aborted);
      await outcome.heal();
      sink({
        f: 'fault',
        type: 'ok',
        process: 'nemesis',
        kind: fault.kind,
        id: fault.id,
        target: outcome.target,
        nodes: outcome.nodes,
        ...stamp(),
      });
      faultsDone++;
      injectedKinds.add(fault.kind);
      currentFault = 'none';
      await sleepUnless(fault.gapMs, stopped);
    }
    await churn;

    say(`${elapsed()} faults over (${faultsDone}); healing the cluster`);
    await cluster.healAll();
    if (!(await waitWhole(observer, options, finalHealWaitMs)))
      note(`the cluster was not whole ${finalHealWaitMs} ms after healing; reading back regardless`);
    await sleep(afterHealMs);
    clearInterval(progressTimer);
    say(`${elapsed()} stopping the clients`);
    await Promise.all([
      ...producers.map((producer) => producer.stop()),
      ...workers.map((worker) => worker.stop()),
    ]);
    await observer.observe();
    await observer.stop();

    say(`${elapsed()} reading every partition from the start`);
    const finalReader = new LibrdkafkaWorker(
      {
        role: 'final',
        name: 'final-reader',
        bootstrap: cluster.bootstrap,
        topic,
        partitions: options.partitions,
        timeoutSeconds: 120,
        logDir,
        ...securedWorker,
      },
      sink,
    );
    await finalReader.done;
    result = checker.finish();
  } finally {
    clearInterval(progressTimer);
    await Promise.all([
      ...producers.map((producer) => producer.stop()),
      ...workers.map((worker) => worker.crash()),
    ]).catch(() => undefined);
    await observer?.stop().catch(() => undefined);
    await cluster.close().catch((error: Error) => say(`cleanup: ${error.message}`));
    await new Promise((done) => history.end(done));
  }
  const verdict = verdictLine(result, options, faultsDone, reportDir);
  writeReport(reportDir, {
    options,
    result,
    timeline,
    startedWall,
    verdict,
    librdkafka: record.librdkafka,
  });
  return { reportDir, result, verdict };
}

/** What a report folder keeps of its campaign besides the history (`campaign.json`). */
interface CampaignRecord {
  readonly argv: readonly string[];
  readonly startedWall: string;
  readonly startMonoMs: number;
  readonly librdkafka: string | undefined;
  /** plaintext or sasl_ssl (absent in folders from before the option: plaintext). */
  readonly security?: SecurityMode;
}

const campaignRecordFile = 'campaign.json';

/** Checks a finished campaign's history again (after the checker changed) and rewrites its report. */
export async function recheckCampaign(reportDir: string): Promise<CampaignOutcome> {
  const record = JSON.parse(readFileSync(join(reportDir, campaignRecordFile), 'utf8')) as CampaignRecord;
  const options = parseOptions(record.argv);
  const checker = new HistoryChecker();
  const timeline = new TimelineRecorder(record.startMonoMs);
  let faults = 0;
  const lines = createInterface({ input: createReadStream(join(reportDir, 'history.jsonl')) });
  let lineNumber = 0;
  for await (const line of lines) {
    lineNumber++;
    if (line.trim() === '') continue;
    const [event] = parseHistory(line);
    if (event === undefined) throw new Error(`history line ${lineNumber} is empty`);
    checker.add(event);
    timeline.add(event);
    if (event.f === 'fault' && event.type === 'ok') faults++;
  }
  const result = checker.finish();
  const verdict = verdictLine(result, options, faults, reportDir);
  writeReport(reportDir, {
    options,
    result,
    timeline,
    startedWall: new Date(record.startedWall),
    verdict,
    librdkafka: record.librdkafka,
  });
  return { reportDir, result, verdict };
}

function verdictLine(
  result: CheckResult,
  options: CampaignOptions,
  faults: number,
  reportDir: string,
): string {
  const anomalies = Object.entries(result.anomalyCounts)
    .filter(([, count]) => count > 0)
    .map(([kind, count]) => `${count} ${kind}`);
  const ended = result.clientsEndedEarly.map((client) => client.process);
  const implicitLosses = result.clientImplicitAckLosses.length;
  const summary =
    `${result.operationCount.toLocaleString('en-US')} operations, ${faults} faults, seed ${options.seed}` +
    (ended.length === 0
      ? ''
      : `, ${ended.length} client${ended.length === 1 ? '' : 's'} ended early: ${ended.join(', ')}`) +
    (implicitLosses === 0
      ? ''
      : `, ${implicitLosses} write${implicitLosses === 1 ? '' : 's'} lost after librdkafka acknowledged ${implicitLosses === 1 ? 'it' : 'them'} itself (implicit ack)`);
  return anomalies.length === 0
    ? `VERDICT: PASS, no anomaly (${summary}); report: ${join(reportDir, 'report.md')}`
    : `VERDICT: FAIL, ${anomalies.join(', ')} (${summary}); report: ${join(reportDir, 'report.md')}`;
}

interface Injected {
  readonly target: number;
  readonly nodes: readonly number[];
  readonly heal: () => Promise<void>;
}

async function inject(
  fault: PlannedFault,
  cluster: ChaosCluster,
  view: ReturnType<Observer['view']>,
  nodeCount: number,
  sink: (event: HistoryEvent) => void,
): Promise<Injected | undefined> {
  if (view === undefined) return undefined;
  const live = { ...view, liveNodes: view.liveNodes.filter((node) => cluster.isRunning(node)) };
  const target =
    fault.kind === 'clock-jump'
      ? cluster.clockNode !== undefined && live.liveNodes.includes(cluster.clockNode)
        ? cluster.clockNode
        : undefined
      : resolveTarget(fault.role, fault.pick, live);
  if (target === undefined) return undefined;
  let nodes: number[] = [target];
  let detail: string;
  const start = (extra: Partial<FaultEvent> = {}) =>
    sink({
      f: 'fault',
      type: 'invoke',
      process: 'nemesis',
      kind: fault.kind,
      id: fault.id,
      target,
      nodes,
      ledPartitions: ledBy(target, live),
      detail,
      ...extra,
      ...stamp(),
    });
  const kind: FaultKind = fault.kind;
  if (kind.startsWith('kill-')) {
    detail = `kill -9 node ${target} (controller ${view.controller ?? 'unknown'}), restart after ${fault.durationMs} ms`;
    start();
    await cluster.kill(target);
    return { target, nodes, heal: () => cluster.restart(target) };
  }
  if (kind.startsWith('pause-')) {
    detail = `SIGSTOP node ${target} for ${fault.durationMs} ms (session timeout ${sessionTimeoutMs} ms)`;
    start();
    await cluster.pause(target);
    return { target, nodes, heal: () => cluster.resume(target) };
  }
  if (isPartitionKind(kind)) {
    const cut = planCut(kind, target, fault.pick, nodeCount);
    nodes = [...new Set(cut.flat())].sort((a, b) => a - b);
    detail = `drop ${cut.map(([from, to]) => `${from}->${to}`).join(' ')} for ${fault.durationMs} ms`;
    start({
      nodes,
      ledPartitions:
        kind === 'isolate-leader' || kind === 'isolate-node' || kind === 'isolate-controller'
          ? ledBy(target, live)
          : [],
    });
    await cluster.cut(cut);
    return { target, nodes, heal: () => cluster.healNetwork() };
  }
  switch (kind) {
    case 'slow-link':
      detail = `links of node ${target} to its peers at ${fault.rateKbit} kbit/s for ${fault.durationMs} ms`;
      start();
      await cluster.slow(target, fault.rateKbit!);
      return { target, nodes, heal: () => cluster.healNetwork() };
    case 'lossy-link':
      detail = `${fault.lossPercent}% of packets between node ${target} and its peers dropped for ${fault.durationMs} ms`;
      start();
      await cluster.lossy(target, fault.lossPercent!);
      return { target, nodes, heal: () => cluster.healNetwork() };
    case 'disk-full':
      detail = `node ${target}'s log dir filesystem filled for ${fault.durationMs} ms`;
      start();
      await cluster.fillDisk(target);
      return { target, nodes, heal: () => cluster.freeDisk(target) };
    case 'clock-jump':
      detail = `node ${target}'s wall clock ${fault.clockJumpSeconds! > 0 ? '+' : ''}${fault.clockJumpSeconds} s for ${fault.durationMs} ms, then back`;
      start();
      await cluster.jumpClock(target, fault.clockJumpSeconds!);
      return { target, nodes, heal: () => cluster.jumpClock(target, 0) };
    default:
      throw new Error(`no injector for ${kind}`);
  }
}

async function churnOnce(
  step: PlannedChurn,
  members: LibrdkafkaWorker[],
  newMember: () => void,
  note: (text: string) => void,
): Promise<void> {
  const running = members.filter((member) => member.running);
  const action = step.action === 'join' && running.length >= groupMembersMax ? 'leave' : step.action;
  if (action === 'join' || running.length === 0) {
    newMember();
    note(`a group member joined (${running.length + 1} now)`);
    return;
  }
  const member = running[step.pick % running.length]!;
  if (action === 'crash') {
    note(`group member ${member.name} crashes (kill -9)`);
    await member.crash();
  } else {
    note(`group member ${member.name} leaves`);
    await member.stop();
  }
  // Keep the group from emptying: a member that went is replaced when it was among the last two.
  if (running.length <= 2) newMember();
}

/** Every node up and listed, every partition led with its full ISR. */
/** What the observer last saw of the cluster, or why it saw nothing, for an error message. */
function describeObserved(observer: Observer): string {
  const error = observer.metadataError();
  if (error !== undefined) return `the observer's last metadata request failed: ${error}`;
  const state = observer.view();
  if (state === undefined) return 'the observer never had an answer';
  const isr = [...state.isr.entries()].map(([partition, members]) => `${partition}:[${members.join(',')}]`);
  return `brokers [${state.brokers.join(',')}], ${state.leaders.size} partitions led, ISRs ${isr.join(' ')}`;
}

async function waitWhole(observer: Observer, options: CampaignOptions, timeoutMs: number): Promise<boolean> {
  const deadline = monoMs() + timeoutMs;
  while (monoMs() < deadline) {
    const state = await observer.observe();
    if (
      state !== undefined &&
      state.brokers.length === options.nodes &&
      state.leaders.size === options.partitions &&
      [...state.isr.entries()].every(
        ([partition, isr]) => isr.length === state.replicas.get(partition)?.length,
      )
    )
      return true;
    await sleep(300);
  }
  return false;
}

async function createTopic(
  bootstrap: string,
  partitions: number,
  replicationFactor: number,
  security: KafkajsSecurity | undefined,
): Promise<void> {
  const kafka = new Kafka({
    clientId: 'chaos-setup',
    brokers: bootstrap.split(','),
    logLevel: logLevel.NOTHING,
    ...security,
  });
  const admin = kafka.admin();
  await waitFor(
    async () => {
      await admin.connect();
      await admin.createTopics({
        topics: [
          {
            topic,
            numPartitions: partitions,
            replicationFactor,
            configEntries: [{ name: 'min.insync.replicas', value: String(Math.min(2, replicationFactor)) }],
          },
        ],
        waitForLeaders: true,
      });
      return true;
    },
    60_000,
    `topic '${topic}' to be created`,
  );
  await admin.disconnect();
}

async function waitFor(attempt: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = monoMs() + timeoutMs;
  let last: unknown;
  while (monoMs() < deadline) {
    try {
      if (await attempt()) return;
    } catch (error) {
      last = error;
    }
    await sleep(500);
  }
  throw new Error(`timed out waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

/** Sleeps `ms`, checking `stop` every 100 ms. */
async function sleepUnless(ms: number, stop: () => boolean): Promise<void> {
  const end = monoMs() + ms;
  while (!stop() && monoMs() < end) await sleep(Math.min(100, end - monoMs()));
}

export function formatElapsed(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  return `${String(Math.floor(seconds / 60)).padStart(2, '0')}:${String(seconds % 60).padStart(2, '0')}`;
}

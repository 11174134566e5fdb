// The campaign report: report.md (verdict, anomalies, operations, faults, availability, failover,
// isolation measures) and timeline.svg (faults against throughput, errors and latency). The
// renderers are pure; `writeReport` writes the files.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type CheckResult, quantile } from './checker.js';
import type { HistoryEvent } from './history.js';
import type { CampaignOptions } from './options.js';
import { describeSecurity } from './security.js';

const bucketMs = 1_000;

interface Bucket {
  acks: number;
  fails: number;
  latenciesMs: number[];
}

export interface TimelineFault {
  readonly id: number;
  readonly kind: string;
  /** The node the fault was aimed at, else the nodes it touched. */
  readonly nodes: readonly number[];
  readonly startMs: number;
  endMs: number | undefined;
}

/** Per-second throughput, errors and latency of the sends, and the fault spans, as events arrive. */
export class TimelineRecorder {
  readonly buckets: Bucket[] = [];
  readonly faults: TimelineFault[] = [];
  private readonly invoked = new Map<string, number>();

  constructor(readonly startMonoMs: number) {}

  private bucket(monoMs: number): Bucket {
    const index = Math.max(0, Math.floor((monoMs - this.startMonoMs) / bucketMs));
    while (this.buckets.length <= index) this.buckets.push({ acks: 0, fails: 0, latenciesMs: [] });
    return this.buckets[index]!;
  }

  add(event: HistoryEvent): void {
    if (event.f === 'send') {
      if (event.type === 'invoke') {
        this.invoked.set(event.value, event.monoMs);
        return;
      }
      const invokedMs = this.invoked.get(event.value);
      this.invoked.delete(event.value);
      const bucket = this.bucket(event.monoMs);
      if (event.type === 'ok') {
        bucket.acks++;
        if (invokedMs !== undefined && event.acks === 'all')
          bucket.latenciesMs.push(event.monoMs - invokedMs);
      } else bucket.fails++;
    } else if (event.f === 'fault') {
      if (event.type === 'invoke')
        this.faults.push({
          id: event.id,
          kind: event.kind,
          nodes: event.target !== undefined ? [event.target] : (event.nodes ?? []),
          startMs: event.monoMs - this.startMonoMs,
          endMs: undefined,
        });
      else {
        const fault = this.faults.find((candidate) => candidate.id === event.id);
        if (fault !== undefined) fault.endMs = event.monoMs - this.startMonoMs;
      }
    }
  }
}

const faultColours: Readonly<Record<string, string>> = {
  kill: '#d62728',
  pause: '#ff7f0e',
  isolate: '#9467bd',
  split: '#9467bd',
  'one-way': '#8c564b',
  bridge: '#8c564b',
  slow: '#17becf',
  lossy: '#1f77b4',
  disk: '#7f7f7f',
  clock: '#bcbd22',
};

function colourOf(kind: string): string {
  const key = Object.keys(faultColours).find((prefix) => kind.startsWith(prefix));
  return key === undefined ? '#444444' : faultColours[key]!;
}

function escapeXml(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

/** The timeline as an SVG: fault spans over three panels (acks/s, failures/s, acks=all p99 latency). */
export function renderTimelineSvg(timeline: TimelineRecorder, title: string): string {
  const width = 1400;
  const left = 70;
  const right = 20;
  const plotWidth = width - left - right;
  const faultLaneHeight = 70;
  const panelHeight = 130;
  const gap = 28;
  const top = 40;
  const seconds = Math.max(1, timeline.buckets.length);
  const x = (ms: number) => left + (ms / 1000 / seconds) * plotWidth;
  const panels = [
    {
      name: 'acknowledged sends / s',
      values: timeline.buckets.map((b) => b.acks),
      colour: '#2ca02c',
      log: false,
    },
    { name: 'failed sends / s', values: timeline.buckets.map((b) => b.fails), colour: '#d62728', log: false },
    {
      name: 'acks=all latency p99, ms (log)',
      values: timeline.buckets.map((b) => quantile(b.latenciesMs, 0.99) ?? 0),
      colour: '#1f77b4',
      log: true,
    },
  ];
  const height = top + faultLaneHeight + panels.length * (panelHeight + gap) + 30;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${left}" y="20" font-size="14" font-weight="bold">${escapeXml(title)}</text>`,
  ];
  // Faults: spans across every panel, labelled in the fault lane (three rows, so labels do not collide).
  const faultTop = top;
  const bottom = top + faultLaneHeight + panels.length * (panelHeight + gap);
  timeline.faults.forEach((fault, index) => {
    const x0 = x(fault.startMs);
    const x1 = Math.max(x0 + 1, x(fault.endMs ?? fault.startMs + 1000));
    const colour = colourOf(fault.kind);
    parts.push(
      `<rect x="${x0.toFixed(1)}" y="${faultTop}" width="${(x1 - x0).toFixed(1)}" height="${(bottom - faultTop).toFixed(1)}" fill="${colour}" fill-opacity="0.12"/>`,
      `<text x="${x0.toFixed(1)}" y="${faultTop + 14 + (index % 4) * 14}" fill="${colour}">${escapeXml(`${fault.kind} ${fault.nodes.join(',')}`)}</text>`,
    );
  });
  panels.forEach((panel, index) => {
    const y0 = top + faultLaneHeight + index * (panelHeight + gap);
    const max = Math.max(1, ...panel.values);
    const scale = (value: number) =>
      panel.log ? panelHeight * (Math.log10(1 + value) / Math.log10(1 + max)) : panelHeight * (value / max);
    const points = panel.values
      .map(
        (value, second) =>
          `${x(second * 1000 + 500).toFixed(1)},${(y0 + panelHeight - scale(value)).toFixed(1)}`,
      )
      .join(' ');
    parts.push(
      `<rect x="${left}" y="${y0}" width="${plotWidth}" height="${panelHeight}" fill="none" stroke="#999"/>`,
      `<text x="${left + 4}" y="${y0 - 6}" font-weight="bold">${escapeXml(panel.name)}</text>`,
      `<text x="${left - 6}" y="${y0 + 10}" text-anchor="end">${Math.round(max)}</text>`,
      `<text x="${left - 6}" y="${y0 + panelHeight}" text-anchor="end">0</text>`,
      `<polyline fill="none" stroke="${panel.colour}" stroke-width="1.2" points="${points}"/>`,
    );
    // A log panel gets a line at each power of ten below its top.
    if (panel.log)
      for (let tick = 1; tick < max; tick *= 10) {
        const y = y0 + panelHeight - scale(tick);
        parts.push(
          `<line x1="${left}" x2="${left + plotWidth}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" stroke="#ddd"/>`,
          `<text x="${left - 6}" y="${(y + 4).toFixed(1)}" text-anchor="end">${tick}</text>`,
        );
      }
  });
  const tickEvery = seconds > 1200 ? 300 : seconds > 300 ? 60 : 15;
  for (let second = 0; second <= seconds; second += tickEvery)
    parts.push(
      `<text x="${x(second * 1000).toFixed(1)}" y="${bottom + 14}" text-anchor="middle">${Math.floor(second / 60)}:${String(second % 60).padStart(2, '0')}</text>`,
    );
  parts.push('</svg>');
  return parts.join('\n');
}

function ms(value: number | undefined): string {
  return value === undefined ? 'n/a' : `${Math.round(value).toLocaleString('en-US')} ms`;
}

function percent(part: number, whole: number): string {
  return whole === 0 ? 'n/a' : `${((100 * part) / whole).toFixed(2)}%`;
}

export interface ReportInput {
  readonly options: CampaignOptions;
  readonly result: CheckResult;
  readonly timeline: TimelineRecorder;
  readonly startedWall: Date;
  readonly verdict: string;
  readonly librdkafka: string | undefined;
}

export function renderReportMarkdown(input: ReportInput): string {
  const { options, result, timeline } = input;
  const lines: string[] = [];
  const push = (...more: string[]) => lines.push(...more);
  push(
    `# Chaos campaign ${input.startedWall.toISOString()}`,
    '',
    `**${input.verdict}**`,
    '',
    `Replay: \`npm run chaos -- --seed ${options.seed} --nodes ${options.nodes} --partitions ${options.partitions} --duration ${options.durationMs / 1000}${options.durationMaxMs === 2 * options.durationMs ? '' : ` --duration-max ${options.durationMaxMs / 1000}`}${options.pace === 1 ? '' : ` --pace ${options.pace}`} --faults ${options.faultSpec} --workload ${[...options.workloads].join(',')} --rate ${options.rate}${options.target === 'compose' ? ' --target compose' : ''}${options.security === 'plaintext' ? '' : ` --security ${options.security}`}\``,
    '(the seed fixes the faults, their order, roles, durations and parameters; which node holds a role is read from the cluster when each fault starts)',
    '',
    `Security: \`${options.security}\`, ${describeSecurity(options.security)}.`,
    '',
    '## Anomalies',
    '',
    '| anomaly | count |',
    '| --- | ---: |',
    ...Object.entries(result.anomalyCounts).map(([kind, count]) => `| ${kind} | ${count} |`),
    '',
  );
  if (result.anomalies.length > 0) {
    push('Examples (up to 20 of each kind):', '');
    for (const anomaly of result.anomalies) push(`- **${anomaly.kind}**: ${anomaly.message}`);
    push('');
  }
  push(
    '## Operations',
    '',
    `${result.operationCount.toLocaleString('en-US')} operations completed; ${result.acksAllAcked.toLocaleString('en-US')} acks=all records acknowledged, ` +
      `${result.recordsRead.toLocaleString('en-US')} records polled by consumers and readers, ${result.finalRecords.toLocaleString('en-US')} records in the final read.`,
    `acks=1: ${result.acks1.acked.toLocaleString('en-US')} acknowledged, ${result.acks1.lost.toLocaleString('en-US')} missing from the final read (not an anomaly for acks=1; counted). ` +
      `Duplicates from producers without idempotence: ${result.nonIdempotentDuplicates}.`,
    `librdkafka: ${input.librdkafka === undefined ? "Debian's only" : `${input.librdkafka} (producer rdk-a, the transactional producer, the group members, the reader) and Debian's 2.0.2 (producer rdk-b, the final read)`}.`,
    '',
    '| client | invoke | ok | fail | info |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...[...result.operations.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(
        ([name, counts]) => `| ${name} | ${counts.invoke} | ${counts.ok} | ${counts.fail} | ${counts.info} |`,
      ),
    '',
    ...renderTransactions(result),
    '## Availability per fault kind',
    '',
    "Error rate: sends invoked between a fault's start and 5 s after it healed that failed. Longest unavailability: the longest time any partition went without an acks=all acknowledgement in that window.",
    '',
    '| fault | count | sends | failed | error rate | longest unavailability |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    ...[...result.availability.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(
        ([kind, availability]) =>
          `| ${kind} | ${availability.faults} | ${availability.sends} | ${availability.failed} | ${percent(availability.failed, availability.sends)} | ${ms(availability.longestUnavailableMs)} |`,
      ),
    '',
    '## Failover after leader kills',
    '',
  );
  const kills = result.faults.filter((fault) => fault.kind.startsWith('kill-') && fault.failoverMs.size > 0);
  push(
    `From each kill -9 of a node that led watched partitions to the first acks=all acknowledgement on every one of them (the slowest partition counts): ${result.failoverMs.length} kills measured, ` +
      `median ${ms(quantile(result.failoverMs, 0.5))}, p99 ${ms(quantile(result.failoverMs, 0.99))}, max ${ms(quantile(result.failoverMs, 1))}.`,
    '',
  );
  if (kills.some((fault) => [...fault.failoverMs.values()].some((value) => value === undefined)))
    push(
      'Kills after which some partition was never acknowledged again are left out of those figures and listed below.',
      '',
    );
  push(
    '## Leader isolated from its peers, not from its clients',
    '',
    'Per partition the isolated node led: the longest time without an acks=all acknowledgement from the isolation to 5 s after it healed (aim: under 3 s, as for a kill); acks=1 records acknowledged in that window and missing from the final read.',
    '',
    '| fault | isolated node | partitions led | unavailability per partition | acks=1 acknowledged | acks=1 lost | stale-leader answers (longest) |',
    '| --- | --- | --- | --- | ---: | ---: | ---: |',
  );
  const isolations = result.faults.filter(
    (fault) =>
      ['isolate-leader', 'isolate-node', 'isolate-controller'].includes(fault.kind) &&
      fault.ledPartitions.length > 0,
  );
  for (const fault of isolations)
    push(
      `| ${fault.id} ${fault.kind} | ${fault.target ?? fault.nodes.join(',')} | ${fault.ledPartitions.join(',')} | ${fault.ledPartitions.map((partition) => `p${partition}: ${ms(fault.unavailableMs.get(partition))}`).join(', ')} | ${fault.acks1Acked} | ${fault.acks1Lost} | ${fault.staleLeaderAnswers} (${ms(fault.staleLeaderMsMax)}) |`,
    );
  const isolationUnavailable = isolations.flatMap((fault) =>
    fault.ledPartitions.map((partition) => fault.unavailableMs.get(partition) ?? 0),
  );
  push(
    '',
    `Over ${isolations.length} isolations: per-partition unavailability median ${ms(quantile(isolationUnavailable, 0.5))}, max ${ms(quantile(isolationUnavailable, 1))}; acks=1 records lost: ${isolations.reduce((sum, fault) => sum + fault.acks1Lost, 0)} of ${isolations.reduce((sum, fault) => sum + fault.acks1Acked, 0)} acknowledged in those windows.`,
    '',
    '## Stale leaders',
    '',
    "The observer asks every node for every partition's high watermark (ListOffsets) twice a second. A node that answers as leader in an older leader epoch than one already seen from another node still acts as leader after losing the leadership (no lease): a client that does not send its current leader epoch reads a high watermark that went back, and writes with acks=1 there are lost.",
    '',
    `${result.staleLeaderAnswers.length} stale-leader answers on ${new Set(result.staleLeaderAnswers.map((answer) => answer.partition)).size} partitions; the longest after a newer leader was first seen: ${ms(result.staleLeaderAnswers.length === 0 ? undefined : Math.max(...result.staleLeaderAnswers.map((answer) => answer.staleForMs)))}.`,
    '',
    '## Clients that ended early',
    '',
    'A client process that ended by itself before the campaign stopped it (a fatal client error, a crash). Not an anomaly of the brokers; but from then on it did nothing, so it checked nothing.',
    '',
    ...(result.clientsEndedEarly.length === 0
      ? ['None.']
      : result.clientsEndedEarly.map(
          (client) =>
            `- ${client.process} at ${((client.monoMs - timeline.startMonoMs) / 1000).toFixed(1)} s, exit code ${client.exitCode}: ${client.lastError === '' ? '(no error on stderr)' : `\`${client.lastError.replaceAll('`', "'")}\``}`,
        )),
    '',
    '## Duplicates from client epoch bumps',
    '',
    'librdkafka begins a new producer epoch when a send fails with a sequence error and re-sends every record not yet acknowledged with new sequence numbers; a record that was in fact written before is then written again, and no broker can tell (librdkafka issue 4953, seen against Kafka too). Such duplicates are listed here, not counted as anomalies; a duplicate without an epoch bump in its window is an anomaly.',
    '',
    `${result.clientEpochBumpDuplicates.length} duplicates after epoch bumps.`,
    ...result.clientEpochBumpDuplicates.slice(0, 20).map((line) => `- ${line}`),
    '',
    '## Lost writes the client acknowledged itself',
    '',
    'librdkafka takes the records of a partition that it still holds (sent and failed, or never answered) as written when a later batch of the same producer is acknowledged: "implicitly acked by subsequent batch success", with their msgids. When the later batch went to a new leader that had never had them (a leader accepts any first sequence from a producer it does not know, as Kafka\'s has since KIP-360), they are acknowledged to the application and lost, with no broker having acknowledged them (confluent-kafka-go issue 921 against Kafka). Such records are listed here, not counted as anomalies: each one\'s msgid lies in a range librdkafka logged, and its acknowledgement carried no offset. Any other acknowledged acks=all record missing from the final read is a lost-write anomaly.',
    '',
    `${result.clientImplicitAckLosses.length} records acknowledged by the client only and lost.`,
    ...result.clientImplicitAckLosses.slice(0, 20).map((line) => `- ${line}`),
    '',
    '## Faults',
    '',
    'Times from the campaign start. Failover: kills only, per partition the node led.',
    '',
    '| # | kind | start | healed | target | what | failover | acks=1 lost |',
    '| ---: | --- | ---: | ---: | --- | --- | --- | ---: |',
  );
  const relative = (monoMs: number | undefined) =>
    monoMs === undefined ? 'never' : `${((monoMs - timeline.startMonoMs) / 1000).toFixed(1)} s`;
  for (const fault of result.faults)
    push(
      `| ${fault.id} | ${fault.kind} | ${relative(fault.startMonoMs)} | ${relative(fault.endMonoMs)} | ${fault.target ?? fault.nodes.join(',')} | ${fault.detail ?? ''} | ${[...fault.failoverMs.entries()].map(([partition, value]) => `p${partition}: ${ms(value)}`).join(', ')} | ${fault.acks1Lost} |`,
    );
  push('', '## Timeline', '', '![timeline](timeline.svg)', '');
  push(
    "Files: `history.jsonl` (every operation, fault and observation, one JSON object a line), `timeline.svg`, `logs/` (each node's log, each client's stderr).",
    '',
  );
  return lines.join('\n');
}

/** The transactions section: outcomes, and what the read_committed final read made of the unknown ones. */
export function renderTransactions(result: CheckResult): string[] {
  if (result.transactions.size === 0) return [];
  const anomalies = (
    ['aborted-read', 'torn-transaction', 'lost-transaction', 'processed-twice', 'never-processed'] as const
  )
    .map((kind) => `${kind} ${result.anomalyCounts[kind]}`)
    .join(', ');
  return [
    '## Transactions',
    '',
    'The transactional producer (`txn`, librdkafka) runs transactions of 2 to 6 records over several partitions, committing most and aborting a seeded share; ' +
      "the consume-transform-produce member (`ctp`, if run) transforms txn's records it reads and commits its group's offsets in the same transaction. " +
      'Aborted: no commit was asked for (planned, or an error before it). Unknown: the commit failed or timed out; the final read (read_committed) then holds all of it (it committed) or none (it aborted), never part.',
    '',
    '| producer | transactions | committed | aborted (planned) | unknown | unknown: all in the final read | unknown: none in it | records committed |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...[...result.transactions.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(
        ([process, txn]) =>
          `| ${process} | ${txn.committed + txn.aborted + txn.unknown} | ${txn.committed} | ${txn.aborted} (${txn.plannedAborts}) | ${txn.unknown} | ${txn.unknownCommitted} | ${txn.unknownAborted} | ${txn.committedRecords} |`,
      ),
    '',
    `Anomalies: ${anomalies} (examples above).`,
    '',
  ];
}

export function writeReport(reportDir: string, input: ReportInput): void {
  writeFileSync(join(reportDir, 'report.md'), renderReportMarkdown(input));
  writeFileSync(
    join(reportDir, 'timeline.svg'),
    renderTimelineSvg(
      input.timeline,
      `Gregor chaos, seed ${input.options.seed}, ${input.options.nodes} nodes: ${input.verdict.split(';')[0]}`,
    ),
  );
}

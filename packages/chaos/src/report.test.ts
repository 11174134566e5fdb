import { describe, expect, it } from 'vitest';
import { checkHistory } from './checker.js';
import type { HistoryEvent } from './history.js';
import { parseOptions } from './options.js';
import { renderReportMarkdown, renderTimelineSvg, TimelineRecorder } from './report.js';

const events: HistoryEvent[] = [
  {
    f: 'fault',
    type: 'invoke',
    process: 'nemesis',
    kind: 'kill-leader',
    id: 1,
    target: 2,
    nodes: [2],
    ledPartitions: [0],
    detail: 'kill -9 node 2',
    wallMs: 1,
    monoMs: 1_000,
  },
  {
    f: 'send',
    type: 'invoke',
    process: 'p1',
    partition: 0,
    value: 'p1#0',
    acks: 'all',
    idempotent: true,
    wallMs: 2,
    monoMs: 1_100,
  },
  {
    f: 'send',
    type: 'ok',
    process: 'p1',
    partition: 0,
    value: 'p1#0',
    acks: 'all',
    idempotent: true,
    offset: 0,
    wallMs: 3,
    monoMs: 2_600,
  },
  {
    f: 'fault',
    type: 'ok',
    process: 'nemesis',
    kind: 'kill-leader',
    id: 1,
    target: 2,
    wallMs: 4,
    monoMs: 3_000,
  },
  {
    f: 'final-read',
    type: 'ok',
    process: 'final-reader',
    partition: 0,
    records: [[0, 0, 'p1#0']],
    highWatermark: 1,
    wallMs: 5,
    monoMs: 9_000,
  },
];

describe('the report', () => {
  it('puts the verdict, the replay command, the anomalies, the failover and every fault in report.md', () => {
    const timeline = new TimelineRecorder(0);
    for (const event of events) timeline.add(event);
    const markdown = renderReportMarkdown({
      options: parseOptions(['--seed', '77', '--duration', '60']),
      result: checkHistory(events),
      timeline,
      startedWall: new Date(0),
      verdict: 'VERDICT: PASS',
      librdkafka: undefined,
    });
    expect(markdown).toContain('**VERDICT: PASS**');
    expect(markdown).toContain('npm run chaos -- --seed 77 --nodes 3 --partitions 6 --duration 60');
    expect(markdown).toContain('| lost-write | 0 |');
    expect(markdown).toContain('1 kills measured, median 1,600 ms');
    expect(markdown).toMatch(
      /\| 1 \| kill-leader \| 1\.0 s \| 3\.0 s \| 2 \| kill -9 node 2 \| p0: 1,600 ms \|/,
    );
  });

  it('names a client that ended by itself before the campaign stopped it, and is not an anomaly', () => {
    const ended: HistoryEvent = {
      f: 'note',
      type: 'info',
      process: 'rdk-b',
      text: 'rdk-b ended by itself (exit code 1)',
      endedEarly: { exitCode: 1, lastError: 'FATAL ... OUT_OF_ORDER_SEQUENCE_NUMBER' },
      wallMs: 6,
      monoMs: 5_500,
    };
    const result = checkHistory([...events, ended]);
    expect(result.valid).toBe(true);
    expect(result.clientsEndedEarly).toEqual([
      { process: 'rdk-b', monoMs: 5_500, exitCode: 1, lastError: 'FATAL ... OUT_OF_ORDER_SEQUENCE_NUMBER' },
    ]);
    const timeline = new TimelineRecorder(0);
    for (const event of events) timeline.add(event);
    const markdown = renderReportMarkdown({
      options: parseOptions(['--seed', '77']),
      result,
      timeline,
      startedWall: new Date(0),
      verdict: 'VERDICT: PASS',
      librdkafka: undefined,
    });
    expect(markdown).toContain('## Clients that ended early');
    expect(markdown).toContain('- rdk-b at 5.5 s, exit code 1: `FATAL ... OUT_OF_ORDER_SEQUENCE_NUMBER`');
    expect(checkHistory(events).clientsEndedEarly).toEqual([]);
  });

  it('counts the transactions by outcome and the transaction anomalies', () => {
    const txn = (
      number: number,
      type: 'ok' | 'fail' | 'info',
      value: string,
      monoMs: number,
    ): HistoryEvent => ({
      f: 'txn',
      type,
      process: 'txn',
      txn: number,
      transactionalId: 'txn',
      planned: type === 'fail' ? 'abort' : 'commit',
      records: [[0, value]],
      wallMs: monoMs,
      monoMs,
    });
    const withTransactions: HistoryEvent[] = [
      txn(0, 'ok', 'txn#0', 4_000),
      txn(1, 'fail', 'txn#1', 4_100),
      txn(2, 'info', 'txn#2', 4_200),
      {
        f: 'final-read',
        type: 'ok',
        process: 'final-reader',
        partition: 0,
        isolation: 'read_committed',
        records: [
          [0, 0, 'p1#0'],
          [0, 1, 'txn#0'],
          [0, 3, 'txn#1'],
        ],
        highWatermark: 6,
        wallMs: 5,
        monoMs: 9_000,
      },
    ];
    const markdown = renderReportMarkdown({
      options: parseOptions(['--seed', '77']),
      result: checkHistory(withTransactions),
      timeline: new TimelineRecorder(0),
      startedWall: new Date(0),
      verdict: 'VERDICT: FAIL',
      librdkafka: undefined,
    });
    expect(markdown).toContain('## Transactions');
    expect(markdown).toContain('| txn | 3 | 1 | 1 (1) | 1 | 0 | 1 | 1 |');
    expect(markdown).toContain('Anomalies: aborted-read 1, torn-transaction 0, lost-transaction 0,');
    expect(markdown).toContain('- **aborted-read**: "txn#1" of aborted transaction 1 of txn');
    // Without a transactional producer there is no such section.
    expect(
      renderReportMarkdown({
        options: parseOptions(['--seed', '77']),
        result: checkHistory(events),
        timeline: new TimelineRecorder(0),
        startedWall: new Date(0),
        verdict: 'VERDICT: PASS',
        librdkafka: undefined,
      }),
    ).not.toContain('## Transactions');
  });

  it('draws the faults and one point per second in each panel of the timeline', () => {
    const timeline = new TimelineRecorder(0);
    for (const event of events) timeline.add(event);
    const svg = renderTimelineSvg(timeline, 'a <title>');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('a &lt;title&gt;');
    expect(svg).toContain('kill-leader 2');
    const polylines = [...svg.matchAll(/points="([^"]*)"/g)].map((match) => match[1]!.split(' ').length);
    expect(polylines).toEqual([timeline.buckets.length, timeline.buckets.length, timeline.buckets.length]);
  });
});

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

import { describe, expect, it } from 'vitest';
import { consumerPerfLine, kafkaDate, ProducerPerfStats } from './perf-stats.js';
import { parsePerfTestArgs } from './perf-test.js';

describe('ProducerPerfStats', () => {
  it("prints a window line once a reporting interval has passed, in Kafka's format", () => {
    const stats = new ProducerPerfStats(10, 0, 5_000);
    expect(stats.record(0, 10, 1024 * 1024, 1_000)).toBeUndefined();
    expect(stats.record(1, 30, 1024 * 1024, 5_000)).toBe(
      '2 records sent, 0.4 records/sec (0.40 MB/sec), 20.0 ms avg latency, 30.0 ms max latency.',
    );
    // A new window starts where the last one ended.
    expect(stats.record(2, 5, 0, 9_000)).toBeUndefined();
  });

  it('totals with exact percentiles of the latencies', () => {
    const stats = new ProducerPerfStats(1000, 0);
    for (let iteration = 0; iteration < 1000; iteration++) stats.record(iteration, iteration + 1, 100, 1);
    expect(stats.percentiles()).toEqual([501, 951, 991, 1000]);
    expect(stats.total(2_000)).toBe(
      '1000 records sent, 500.000000 records/sec (0.05 MB/sec), 500.50 ms avg latency, 1000.00 ms max latency, 501 ms 50th, 951 ms 95th, 991 ms 99th, 1000 ms 99.9th.',
    );
  });

  it("keeps a bounded sample: every n-th latency past Kafka's 500,000", () => {
    const stats = new ProducerPerfStats(1_500_000, 0);
    for (let iteration = 0; iteration < 1_500_000; iteration++)
      stats.record(iteration, iteration % 3 === 0 ? 7 : 1, 1, 1);
    // Every third latency is sampled: all of them 7.
    expect(stats.percentiles()).toEqual([7, 7, 7, 7]);
    expect(stats.recorded).toBe(1_500_000);
  });
});

describe('consumerPerfLine', () => {
  it("is Kafka's row: MB and messages over the whole run and over the fetch time", () => {
    const startMs = new Date(2026, 0, 2, 3, 4, 5, 6).getTime();
    expect(
      consumerPerfLine({
        startMs,
        endMs: startMs + 2_000,
        bytes: 2 * 1024 * 1024,
        messages: 1000,
        rebalanceMs: 1_000,
      }),
    ).toBe(
      '2026-01-02 03:04:05:006, 2026-01-02 03:04:07:006, 2.0000, 1.0000, 1000, 500.0000, 1000, 1000, 2.0000, 1000.0000',
    );
    expect(kafkaDate(new Date(2026, 11, 31, 23, 59, 59, 999).getTime())).toBe('2026-12-31 23:59:59:999');
  });
});

describe('parsePerfTestArgs', () => {
  const producer = [
    'producer',
    '--topic',
    't',
    '--num-records',
    '10',
    '--record-size',
    '100',
    '--throughput',
    '-1',
  ];
  const message = (args: string[]) => {
    const parsed = parsePerfTestArgs(args);
    return parsed.kind === 'usage-error' ? parsed.message : parsed.kind;
  };

  it('takes bootstrap.servers and the settings from --producer-props, as several arguments', () => {
    const parsed = parsePerfTestArgs([
      ...producer,
      '--producer-props',
      'bootstrap.servers=127.0.0.1:9092',
      'acks=1',
    ]);
    expect(parsed).toMatchObject({
      kind: 'producer',
      options: {
        bootstrap: ['127.0.0.1:9092'],
        numRecords: 10,
        recordSize: 100,
        throughput: -1,
        settings: { acks: 1 },
      },
    });
    expect(
      parsePerfTestArgs([
        'consumer',
        '--bootstrap-server',
        '127.0.0.1:9092',
        '--topic',
        't',
        '--messages',
        '5',
      ]),
    ).toMatchObject({ kind: 'consumer', options: { messages: 5, timeoutMs: 10_000, fromLatest: false } });
  });

  it('names what is wrong', () => {
    expect(message(producer)).toBe('--bootstrap-server or bootstrap.servers in --producer-props is required');
    expect(message(['producer', '--topic', 't', '--record-size', '1', '--throughput', '1'])).toBe(
      '--num-records is required',
    );
    expect(message([...producer.slice(0, -1), '0', '--bootstrap-server', 'h:1'])).toMatch(
      /--throughput must be -1/,
    );
    expect(message([...producer, '--bootstrap-server', 'h:1', '--producer-props', 'nope'])).toBe(
      "--producer-props: expected key=value, got 'nope'",
    );
    expect(message([...producer, '--bootstrap-server', 'h:1', '--print-metrics'])).toMatch(/not supported/);
    expect(message(['consumer', '--bootstrap-server', 'h:1', '--topic', 't'])).toBe('--messages is required');
    expect(message(['both'])).toBe("expected producer or consumer, got 'both'");
    expect(message([])).toBe('help');
  });
});

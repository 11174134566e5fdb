// The figures `gregor perf-test` prints, computed as Kafka's tools compute them, from times passed in
// (so they are tested without a clock).
//   - ProducerPerfStats: kafka-producer-perf-test.sh's Stats: a line per reporting window (about
//     every 5 s) and a total line with percentiles. The percentiles are exact over a bounded sample,
//     as Kafka's: every `sampling`-th latency is kept (at most latencySamplesMax of them), sorted
//     at the end, and the p-th percentile is sample[floor(p * count)].
//   - consumerPerfLine: kafka-consumer-perf-test.sh's header and result row.

/** Kafka's bound on the latencies kept for the percentiles. */
export const latencySamplesMax = 500_000;
export const reportingIntervalMsDefault = 5_000;

const bytesPerMiB = 1024 * 1024;

export class ProducerPerfStats {
  private readonly sampling: number;
  private readonly latencies: Int32Array;
  private sampled = 0;
  private count = 0;
  private bytes = 0;
  private totalLatencyMs = 0;
  private maxLatencyMs = 0;
  private windowStartMs: number;
  private windowCount = 0;
  private windowBytes = 0;
  private windowTotalLatencyMs = 0;
  private windowMaxLatencyMs = 0;

  constructor(
    numRecords: number,
    private readonly startMs: number,
    private readonly reportingIntervalMs = reportingIntervalMsDefault,
  ) {
    this.sampling = Math.floor(numRecords / Math.min(numRecords, latencySamplesMax));
    this.latencies = new Int32Array(Math.floor(numRecords / this.sampling) + 1);
    this.windowStartMs = startMs;
  }

  /**
   * Record number `iteration` (from 0) was acknowledged `latencyMs` after it was sent; the window's
   * line when this record closes a reporting window, else undefined.
   */
  record(iteration: number, latencyMs: number, bytes: number, nowMs: number): string | undefined {
    this.count++;
    this.bytes += bytes;
    this.totalLatencyMs += latencyMs;
    this.maxLatencyMs = Math.max(this.maxLatencyMs, latencyMs);
    this.windowCount++;
    this.windowBytes += bytes;
    this.windowTotalLatencyMs += latencyMs;
    this.windowMaxLatencyMs = Math.max(this.windowMaxLatencyMs, latencyMs);
    if (iteration % this.sampling === 0 && this.sampled < this.latencies.length) {
      this.latencies[this.sampled++] = latencyMs;
    }
    if (nowMs - this.windowStartMs < this.reportingIntervalMs) return undefined;
    const elapsedMs = nowMs - this.windowStartMs;
    const line =
      `${this.windowCount} records sent, ${((1000 * this.windowCount) / elapsedMs).toFixed(1)} records/sec ` +
      `(${((1000 * this.windowBytes) / elapsedMs / bytesPerMiB).toFixed(2)} MB/sec), ` +
      `${(this.windowTotalLatencyMs / this.windowCount).toFixed(1)} ms avg latency, ` +
      `${this.windowMaxLatencyMs.toFixed(1)} ms max latency.`;
    this.windowStartMs = nowMs;
    this.windowCount = 0;
    this.windowBytes = 0;
    this.windowTotalLatencyMs = 0;
    this.windowMaxLatencyMs = 0;
    return line;
  }

  get recorded(): number {
    return this.count;
  }

  /** The 50th, 95th, 99th and 99.9th percentiles of the sampled latencies, ms. */
  percentiles(): [number, number, number, number] {
    const sorted = this.latencies.subarray(0, this.sampled).slice().sort();
    const at = (p: number) => sorted[Math.floor(p * sorted.length)] ?? 0;
    return [at(0.5), at(0.95), at(0.99), at(0.999)];
  }

  /** Kafka's final line. */
  total(nowMs: number): string {
    const elapsedMs = Math.max(1, nowMs - this.startMs);
    const [p50, p95, p99, p999] = this.percentiles();
    const average = this.count === 0 ? 0 : this.totalLatencyMs / this.count;
    return (
      `${this.count} records sent, ${((1000 * this.count) / elapsedMs).toFixed(6)} records/sec ` +
      `(${((1000 * this.bytes) / elapsedMs / bytesPerMiB).toFixed(2)} MB/sec), ` +
      `${average.toFixed(2)} ms avg latency, ${this.maxLatencyMs.toFixed(2)} ms max latency, ` +
      `${p50} ms 50th, ${p95} ms 95th, ${p99} ms 99th, ${p999} ms 99.9th.`
    );
  }
}

export const consumerPerfHeader =
  'start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec';

export interface ConsumerPerfFigures {
  readonly startMs: number;
  readonly endMs: number;
  readonly bytes: number;
  readonly messages: number;
  /** From subscribing until the group assigned the partitions. */
  readonly rebalanceMs: number;
}

/** Kafka's result row (`%s, %s, %.4f, %.4f, %d, %.4f, %d, %d, %.4f, %.4f`), times in local time. */
export function consumerPerfLine(figures: ConsumerPerfFigures): string {
  const elapsedSeconds = (figures.endMs - figures.startMs) / 1000;
  const fetchMs = figures.endMs - figures.startMs - figures.rebalanceMs;
  const megabytes = figures.bytes / bytesPerMiB;
  // Java prints NaN or Infinity for a zero duration; so does this.
  const rate = (amount: number, seconds: number) => (amount / seconds).toFixed(4);
  return [
    kafkaDate(figures.startMs),
    kafkaDate(figures.endMs),
    megabytes.toFixed(4),
    rate(megabytes, elapsedSeconds),
    String(figures.messages),
    rate(figures.messages, elapsedSeconds),
    String(figures.rebalanceMs),
    String(fetchMs),
    rate(megabytes, fetchMs / 1000),
    rate(figures.messages, fetchMs / 1000),
  ].join(', ');
}

/** Kafka's default --date-format, yyyy-MM-dd HH:mm:ss:SSS, in local time. */
export function kafkaDate(ms: number): string {
  const date = new Date(ms);
  const two = (value: number) => String(value).padStart(2, '0');
  return (
    `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())} ` +
    `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}:` +
    String(date.getMilliseconds()).padStart(3, '0')
  );
}

// Windowed statistics as Kafka's metrics library keeps them (SampledStat): a ring of
// `metrics.num.samples` samples, each covering `metrics.sample.window.ms`. Recording goes into the
// current sample, moving to the next (and clearing it) once the current one is a window old; a
// measurement combines the samples younger than num.samples × window. So an average, a maximum or a
// percentile describes roughly the last minute (Kafka's defaults: 2 × 30 s), not the whole uptime.
//
// Pure: the caller passes the time (milliseconds on any monotonic scale) to every call.

export interface SampleWindows {
  /** metrics.sample.window.ms */
  readonly windowMs: number;
  /** metrics.num.samples */
  readonly samples: number;
}

/** Kafka's defaults for metrics.sample.window.ms and metrics.num.samples. */
export const kafkaSampleWindows: SampleWindows = { windowMs: 30_000, samples: 2 };

interface Sample<V> {
  startMs: number;
  readonly value: V;
}

/** The ring of samples; `V` is what one sample accumulates. */
class SampleRing<V> {
  private readonly ring: Sample<V>[];
  private current = 0;

  constructor(
    private readonly windows: SampleWindows,
    create: () => V,
    private readonly clear: (value: V) => void,
  ) {
    if (!(windows.windowMs > 0) || !Number.isInteger(windows.samples) || windows.samples < 1)
      throw new Error(`bad sample windows ${JSON.stringify(windows)}`);
    // Unused samples start infinitely long ago: never live until recorded into.
    this.ring = Array.from({ length: windows.samples }, () => ({
      startMs: Number.NEGATIVE_INFINITY,
      value: create(),
    }));
  }

  /** The sample to record into at `nowMs`. */
  sampleAt(nowMs: number): V {
    let sample = this.ring[this.current]!;
    if (nowMs - sample.startMs >= this.windows.windowMs) {
      if (sample.startMs !== Number.NEGATIVE_INFINITY) this.current = (this.current + 1) % this.ring.length;
      sample = this.ring[this.current]!;
      this.clear(sample.value);
      sample.startMs = nowMs;
    }
    return sample.value;
  }

  /** The samples that still count at `nowMs`. */
  *live(nowMs: number): Iterable<V> {
    const ageMsMax = this.windows.windowMs * this.windows.samples;
    for (const sample of this.ring) if (nowMs - sample.startMs < ageMsMax) yield sample.value;
  }

  /** When the oldest sample that still counts began; `nowMs` when none does. */
  oldestLiveStartMs(nowMs: number): number {
    const ageMsMax = this.windows.windowMs * this.windows.samples;
    let oldestMs = nowMs;
    for (const sample of this.ring) {
      if (nowMs - sample.startMs < ageMsMax && sample.startMs < oldestMs) oldestMs = sample.startMs;
    }
    return oldestMs;
  }

  /** The live samples and their start times, for callers that combine both in one pass. */
  forEachLive(nowMs: number, visit: (value: V, startMs: number) => void): void {
    const ageMsMax = this.windows.windowMs * this.windows.samples;
    for (const sample of this.ring)
      if (nowMs - sample.startMs < ageMsMax) visit(sample.value, sample.startMs);
  }
}

/**
 * Kafka's Rate over a SampledTotal (the measure behind client quotas): the total of the live samples
 * divided by the time they span. The span counts at least `samples - 1` whole windows, so a burst
 * right after a quiet spell is spread over the full window instead of measured as a huge rate.
 */
export class SampledRate {
  private readonly ring: SampleRing<{ total: number }>;

  constructor(private readonly windows: SampleWindows) {
    this.ring = new SampleRing<{ total: number }>(
      windows,
      () => ({ total: 0 }),
      (sample) => {
        sample.total = 0;
      },
    );
  }

  record(value: number, nowMs: number): void {
    this.ring.sampleAt(nowMs).total += value;
  }

  /** Takes back a recorded value (a throttled Fetch whose records are not sent, as Kafka does). */
  unrecord(value: number, nowMs: number): void {
    this.ring.sampleAt(nowMs).total -= value;
  }

  /** The time the rate is measured over at `nowMs` (Kafka's Rate.windowSize), at least 1 ms. */
  windowSizeMs(nowMs: number): number {
    return this.windowSizeFrom(nowMs, this.ring.oldestLiveStartMs(nowMs));
  }

  /** Per second. */
  measure(nowMs: number): number {
    let total = 0;
    let oldestMs = nowMs;
    this.ring.forEachLive(nowMs, (sample, startMs) => {
      total += sample.total;
      if (startMs < oldestMs) oldestMs = startMs;
    });
    return total / (this.windowSizeFrom(nowMs, oldestMs) / 1000);
  }

  private windowSizeFrom(nowMs: number, oldestStartMs: number): number {
    let elapsedMs = nowMs - oldestStartMs;
    const fullWindows = Math.floor(elapsedMs / this.windows.windowMs);
    const fullWindowsMin = this.windows.samples - 1;
    if (fullWindows < fullWindowsMin) elapsedMs += (fullWindowsMin - fullWindows) * this.windows.windowMs;
    return Math.max(elapsedMs, 1);
  }
}

interface AvgMaxSample {
  count: number;
  sum: number;
  max: number;
}

/** Kafka's Avg and Max over the same samples (e.g. raft-metrics commit-latency-avg/-max). */
export class SampledAvgMax {
  private readonly ring: SampleRing<AvgMaxSample>;

  constructor(windows: SampleWindows) {
    this.ring = new SampleRing<AvgMaxSample>(
      windows,
      () => ({ count: 0, sum: 0, max: Number.NEGATIVE_INFINITY }),
      (sample) => {
        sample.count = 0;
        sample.sum = 0;
        sample.max = Number.NEGATIVE_INFINITY;
      },
    );
  }

  record(value: number, nowMs: number): void {
    const sample = this.ring.sampleAt(nowMs);
    sample.count++;
    sample.sum += value;
    if (value > sample.max) sample.max = value;
  }

  /** NaN when nothing was recorded in the live samples, as Kafka reports it. */
  measure(nowMs: number): { avg: number; max: number } {
    let count = 0;
    let sum = 0;
    let max = Number.NEGATIVE_INFINITY;
    for (const sample of this.ring.live(nowMs)) {
      count += sample.count;
      sum += sample.sum;
      if (sample.max > max) max = sample.max;
    }
    return count === 0 ? { avg: Number.NaN, max: Number.NaN } : { avg: sum / count, max };
  }
}

/**
 * Values are counted in exponential buckets: bucket i holds (lowestMs × 2^((i-1)/8), lowestMs ×
 * 2^(i/8)], so a percentile is known to within 9% of its value (Kafka's Yammer histograms keep a
 * 1028-value sample instead; a fixed array keeps recording one increment and measuring bounded).
 */
export const percentileBucketsPerDoubling = 8;
/** Smallest value told apart from zero: 1 µs. */
export const percentileLowestMs = 0.001;
/** 2^32 µs is 71 minutes: anything slower lands in the last bucket. */
export const percentileBucketCount = 32 * percentileBucketsPerDoubling + 1;

function bucketOf(valueMs: number): number {
  if (!(valueMs > percentileLowestMs)) return 0;
  const index = Math.ceil(Math.log2(valueMs / percentileLowestMs) * percentileBucketsPerDoubling);
  return index < percentileBucketCount ? index : percentileBucketCount - 1;
}

/** The largest value bucket `index` holds. */
export function bucketUpperBoundMs(index: number): number {
  return percentileLowestMs * 2 ** (index / percentileBucketsPerDoubling);
}

/** Percentiles of the values recorded in the live samples (request times: Kafka's TotalTimeMs). */
export class SampledPercentiles {
  private readonly ring: SampleRing<Float64Array>;

  constructor(windows: SampleWindows) {
    this.ring = new SampleRing<Float64Array>(
      windows,
      () => new Float64Array(percentileBucketCount),
      (counts) => counts.fill(0),
    );
  }

  record(valueMs: number, nowMs: number): void {
    this.ring.sampleAt(nowMs)[bucketOf(valueMs)]!++;
  }

  /**
   * The value at or below which each fraction of the live values lies, as the upper bound of the
   * bucket holding it; NaN for every fraction when nothing was recorded in the live samples.
   */
  measure(fractions: readonly number[], nowMs: number): number[] {
    const counts = new Float64Array(percentileBucketCount);
    let total = 0;
    for (const sample of this.ring.live(nowMs)) {
      for (let index = 0; index < percentileBucketCount; index++) counts[index]! += sample[index]!;
    }
    for (const count of counts) total += count;
    if (total === 0) return fractions.map(() => Number.NaN);
    return fractions.map((fraction) => {
      const rank = Math.max(1, Math.ceil(fraction * total));
      let seen = 0;
      for (let index = 0; index < percentileBucketCount; index++) {
        seen += counts[index]!;
        if (seen >= rank) return bucketUpperBoundMs(index);
      }
      return bucketUpperBoundMs(percentileBucketCount - 1);
    });
  }
}

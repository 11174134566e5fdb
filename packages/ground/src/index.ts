export { type Clock, ManualClock, monotonicClock, systemClock } from './clock.js';
export { InvariantViolation, invariant } from './invariant.js';
export { type Random, SeededRandom, systemRandom } from './random.js';
export { SampledAvgMax, SampledPercentiles, SampledRate, type SampleWindows } from './sampled-stats.js';
export {
  ManualTimers,
  systemTimers,
  type TimerHandle,
  type TimerScheduler,
  timerDelayMsMax,
} from './timers.js';

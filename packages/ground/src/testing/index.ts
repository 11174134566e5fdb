// Test support shared by every package's tests (`@gregor/ground/testing`). Not built into dist:
// tests resolve it to this source (vitest alias, tsconfig.test.json paths).
export {
  sleep,
  type WaitForOptions,
  waitFor,
  waitForIntervalMsDefault,
  waitForTimeoutMsDefault,
} from './wait-for.js';

// Test support shared by every package's tests (`@gregor/ground/test-support`). Not built into dist:
// tests resolve it to this source (vitest alias, tsconfig.test.json paths).
export {
  sleep,
  type WaitForOptions,
  waitFor,
  waitForIntervalMsDefault,
  waitForTimeoutMsDefault,
} from './wait-for.js';

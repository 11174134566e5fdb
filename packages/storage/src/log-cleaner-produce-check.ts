// Which logs the cleaner compacts. A compacted topic needs a key on every record (the cleaner keeps
// the latest record per key and drops keyless ones); the broker enforces that on produce through
// @gregor/protocol's validateProducedRecords({ requireKeys }).

import type { LogConfig } from './log-config.js';

/** True when the cleaner compacts logs with this config (`compact` or `compact,delete`). */
export function isCompacted(config: LogConfig): boolean {
  return config.cleanupPolicy.includes('compact');
}

// The `bound-ports` file: the listeners a node actually bound, written into its metadata log dir at
// every start, in the syntax of the `listeners` key. A listener configured with port 0 gets its port
// from the operating system; this file (and the `bound listeners` log line) is how a launcher learns
// it, for example to tell the other voters where this node's CONTROLLER listener is.
//
//   listeners=PLAINTEXT://127.0.0.1:41234,CONTROLLER://127.0.0.1:41235
//   metrics.port=41236
//
// The `metrics.port` line is there when gregor.metrics.port is on (not -1): the HTTP port serving
// /metrics, /healthz and /readyz.

import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ListenerSpec, parseListeners } from '../config/broker-config.js';
import { parseProperties } from '../config/properties.js';

export const boundListenersFileName = 'bound-ports';

export function formatListeners(listeners: readonly ListenerSpec[]): string {
  return listeners
    .map(({ name, host, port }) => `${name}://${host.includes(':') ? `[${host}]` : host}:${port}`)
    .join(',');
}

/** Replaces `<dir>/bound-ports` atomically (a reader sees the old file or the new one). */
export function writeBoundListeners(
  dir: string,
  listeners: readonly ListenerSpec[],
  metricsPort: number | undefined,
): void {
  const path = join(dir, boundListenersFileName);
  const metricsLine = metricsPort === undefined ? '' : `metrics.port=${metricsPort}\n`;
  writeFileSync(`${path}.tmp`, `listeners=${formatListeners(listeners)}\n${metricsLine}`);
  renameSync(`${path}.tmp`, path);
}

function readBoundPorts(dir: string): Map<string, string> | undefined {
  try {
    return parseProperties(readFileSync(join(dir, boundListenersFileName), 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * The metrics port in `<dir>/bound-ports`: undefined while the file does not exist, null when the
 * node runs without metrics (gregor.metrics.port=-1).
 */
export function readBoundMetricsPort(dir: string): number | null | undefined {
  const bound = readBoundPorts(dir);
  if (bound === undefined) return undefined;
  const value = bound.get('metrics.port');
  return value === undefined ? null : Number(value);
}

/** The listeners in `<dir>/bound-ports`; undefined while the file does not exist. */
export function readBoundListeners(dir: string): ListenerSpec[] | undefined {
  const bound = readBoundPorts(dir);
  if (bound === undefined) return undefined;
  const value = bound.get('listeners');
  if (value === undefined) throw new Error(`${join(dir, boundListenersFileName)} names no listeners`);
  return parseListeners('listeners', value.split(','));
}

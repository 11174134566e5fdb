import type { Ready } from '../core/node.js';
import type { PersistedState } from '../core/types.js';

/**
 * What the driver needs from durable storage. persist() resolves only once the Ready is durable
 * (fsynced): the driver calls node.advance(ready) after it, and only then sends the Ready's messages.
 */
export interface RaftStore {
  load(): Promise<PersistedState>;
  persist(ready: Ready): Promise<void>;
  close(): Promise<void>;
}

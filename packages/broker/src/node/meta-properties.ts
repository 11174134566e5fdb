// meta.properties in every log directory, as Kafka's `kafka-storage format` writes it: it ties
// the directory to one cluster and one node, so a misconfigured node cannot serve (or destroy)
// another cluster's data. Gregor formats an empty directory on first start.

import { randomUUID } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { parseProperties } from '../config/properties.js';

export const metaPropertiesFileName = 'meta.properties';

export class MetaPropertiesError extends Error {
  override readonly name = 'MetaPropertiesError';
}

export interface MetaProperties {
  readonly clusterId: string;
  readonly nodeId: number;
  readonly directoryId: string;
}

/** Checks (or, for a new directory, writes) meta.properties; returns what the directory holds. */
export function ensureMetaProperties(dir: string, clusterId: string, nodeId: number): MetaProperties {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, metaPropertiesFileName);
  if (existsSync(path)) {
    const props = parseProperties(readFileSync(path, 'utf8'));
    const foundCluster = props.get('cluster.id');
    const foundNode = Number(props.get('node.id'));
    if (foundCluster !== clusterId) {
      throw new MetaPropertiesError(
        `${path} belongs to cluster ${foundCluster}, but cluster.id is ${clusterId}: refusing to use this directory`,
      );
    }
    if (foundNode !== nodeId) {
      throw new MetaPropertiesError(
        `${path} belongs to node ${props.get('node.id')}, but node.id is ${nodeId}: refusing to use this directory`,
      );
    }
    return { clusterId, nodeId, directoryId: props.get('directory.id') ?? '' };
  }
  const directoryId = randomUUID();
  const text = [
    '#',
    `#${new Date().toString()}`,
    `cluster.id=${clusterId}`,
    `directory.id=${directoryId}`,
    `node.id=${nodeId}`,
    'version=1',
    '',
  ].join('\n');
  const temporary = `${path}.tmp`;
  writeFileSync(temporary, text);
  const fd = openSync(temporary, 'r');
  fsyncSync(fd);
  closeSync(fd);
  renameSync(temporary, path);
  const dirFd = openSync(dir, 'r');
  fsyncSync(dirFd);
  closeSync(dirFd);
  return { clusterId, nodeId, directoryId };
}

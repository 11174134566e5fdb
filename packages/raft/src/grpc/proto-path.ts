import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const RAFT_PROTO_FILE = 'raft.proto';
/** src/grpc and dist/grpc sit four levels below the repository root; a few more allow other layouts. */
const PROTO_SEARCH_LEVELS_MAX = 8;

/**
 * Finds proto/raft.proto by walking up from this module, so that the same code works from src/ (vitest),
 * from dist/ (node) and in the docker image (which copies proto/ beside packages/). Pass a path
 * explicitly where the layout differs.
 */
export function findRaftProtoPath(from: string = fileURLToPath(import.meta.url)): string {
  let directory = dirname(from);
  for (let level = 0; level < PROTO_SEARCH_LEVELS_MAX; level++) {
    const candidate = join(directory, 'proto', RAFT_PROTO_FILE);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(directory);
    if (parent === directory) break;
    directory = parent;
  }
  throw new Error(`proto/${RAFT_PROTO_FILE} not found above ${from}; pass protoPath explicitly`);
}

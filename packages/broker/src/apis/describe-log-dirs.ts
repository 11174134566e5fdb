// DescribeLogDirs (key 35), versions 0-4; flexible from 2.
//   Request  => [topics => topic [partitions]](nullable: every partition)
//   Response => throttle_time_ms error_code(3+)
//               [results => error_code log_dir
//                 [topics => name [partitions => partition_index partition_size offset_lag is_future_key]]
//                 total_bytes(4+) usable_bytes(4+)]
//
// This broker's `log.dirs`, as Kafka's ReplicaManager.describeLogDirs answers: a failed dir is
// KAFKA_STORAGE_ERROR with no partitions; an online one lists its partitions (the named ones, or all)
// with their size in bytes and offset lag max(high watermark - log end offset, 0), and (v4) the
// file system's total and usable bytes (statfs: blocks and blocks available to this user). A future
// replica an AlterReplicaLogDirs is copying is listed in its target dir with is_future_key. Needs
// DESCRIBE on CLUSTER with an authorizer.

import { statfs } from 'node:fs/promises';
import { type ApiKey, ErrorCode, type RequestBody, type ResponseInput } from '@gregor/protocol';
import type { RequestContext } from './api-handler.js';
import { AclOperation, authorizedOnCluster } from './authorization.js';

type Key = typeof ApiKey.DescribeLogDirs;
type Response = ResponseInput<Key>;
type DirResult = Response['results'][number];

/** Partitions one request may name; more is a broken client. */
export const describedLogDirPartitionsPerRequestMax = 100_000;

/** Total and usable bytes of the file system holding `logDir`; -1 both if it cannot be read. */
async function diskSpace(logDir: string): Promise<{ totalBytes: bigint; usableBytes: bigint }> {
  try {
    const stats = await statfs(logDir, { bigint: true });
    return { totalBytes: stats.blocks * stats.bsize, usableBytes: stats.bavail * stats.bsize };
  } catch {
    return { totalBytes: -1n, usableBytes: -1n };
  }
}

function selection(body: RequestBody<Key>): Map<string, Set<number>> | null {
  if (body.topics === null) return null;
  const selected = new Map<string, Set<number>>();
  let count = 0;
  for (const { topic, partitions } of body.topics) {
    let set = selected.get(topic);
    if (set === undefined) {
      set = new Set();
      selected.set(topic, set);
    }
    for (const partition of partitions) {
      if (++count > describedLogDirPartitionsPerRequestMax) return selected;
      set.add(partition);
    }
  }
  return selected;
}

export async function handleDescribeLogDirs(
  body: RequestBody<Key>,
  apiVersion: number,
  context: RequestContext,
): Promise<Response> {
  if (!authorizedOnCluster(context, AclOperation.DESCRIBE)) {
    return {
      throttleTimeMs: 0,
      ...(apiVersion >= 3 ? { errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED } : {}),
      results: [],
    };
  }
  const dirs = context.broker.replicaManager.describeLogDirs(selection(body));
  const results = await Promise.all(
    dirs.map(async (dir): Promise<DirResult> => {
      const space = apiVersion >= 4 && !dir.offline ? await diskSpace(dir.logDir) : undefined;
      const topics = new Map<string, DirResult['topics'][number]['partitions']>();
      for (const partition of dir.partitions) {
        let partitions = topics.get(partition.topic);
        if (partitions === undefined) {
          partitions = [];
          topics.set(partition.topic, partitions);
        }
        partitions.push({
          partitionIndex: partition.partition,
          partitionSize: BigInt(partition.sizeBytes),
          offsetLag: BigInt(partition.offsetLag),
          isFutureKey: partition.isFuture,
        });
      }
      return {
        errorCode: dir.offline ? ErrorCode.KAFKA_STORAGE_ERROR : ErrorCode.NONE,
        logDir: dir.logDir,
        topics: [...topics].map(([name, partitions]) => ({ name, partitions })),
        ...(space === undefined ? {} : space),
      };
    }),
  );
  return { throttleTimeMs: 0, ...(apiVersion >= 3 ? { errorCode: ErrorCode.NONE } : {}), results };
}

// The consumer protocol's assignment bytes (what a group leader hands each member through
// SyncGroup and DescribeGroups reports), as Kafka's ConsumerProtocol writes them:
//   Assignment v0-3 => version int16 [assigned_partitions => topic string [partitions int32]]
//                      user_data (nullable bytes)
// v1+ append nothing the CLI shows (v3 adds nothing to the assignment). Empty bytes (a member that
// has no assignment yet, or a group not Stable) mean no partitions.

export interface ConsumerAssignment {
  readonly version: number;
  readonly partitions: readonly { readonly topic: string; readonly partitions: readonly number[] }[];
}

/** Topics or partitions one assignment may list; more is corrupt bytes, not a real group. */
export const assignmentEntriesMax = 1_000_000;

export class AssignmentDecodeError extends Error {
  override readonly name = 'AssignmentDecodeError';
}

export function decodeConsumerAssignment(bytes: Buffer): ConsumerAssignment {
  if (bytes.length === 0) return { version: 0, partitions: [] };
  let position = 0;
  const need = (count: number): void => {
    if (position + count > bytes.length) {
      throw new AssignmentDecodeError(`assignment truncated at byte ${position} (${bytes.length} bytes)`);
    }
  };
  const int16 = (): number => {
    need(2);
    position += 2;
    return bytes.readInt16BE(position - 2);
  };
  const int32 = (): number => {
    need(4);
    position += 4;
    return bytes.readInt32BE(position - 4);
  };
  const count = (): number => {
    const value = int32();
    if (value < 0 || value > assignmentEntriesMax)
      throw new AssignmentDecodeError(`bad array length ${value}`);
    return value;
  };
  const version = int16();
  const topicCount = count();
  const partitions: { topic: string; partitions: number[] }[] = [];
  for (let t = 0; t < topicCount; t++) {
    const length = int16();
    if (length < 0) throw new AssignmentDecodeError('null topic name');
    need(length);
    const topic = bytes.toString('utf8', position, position + length);
    position += length;
    const partitionCount = count();
    const indexes: number[] = [];
    for (let p = 0; p < partitionCount; p++) indexes.push(int32());
    partitions.push({ topic, partitions: indexes });
  }
  // user_data follows; the CLI does not show it.
  return { version, partitions };
}

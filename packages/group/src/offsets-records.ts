// The records of the internal, compacted `__consumer_offsets` topic, byte for byte as Kafka writes
// them, so Kafka's tools (kafka-console-consumer's OffsetsMessageFormatter, kafka-dump-log
// --offsets-decoder) can read a Gregor log and a Gregor coordinator can load a Kafka one.
//
// Every key and every value starts with an int16 version; the key's version says which record it is.
//   OffsetCommitKey   (key version 0 or 1; Kafka writes 1) => group string, topic string, partition int32
//   GroupMetadataKey  (key version 2)                      => group string
//   OffsetCommitValue v0, v2 => offset int64, metadata string, commit_timestamp int64
//                     v1     => offset int64, metadata string, commit_timestamp int64, expire_timestamp int64
//                     v3     => offset int64, leader_epoch int32, metadata string, commit_timestamp int64
//                     v4     => v3's fields, flexible (compact strings, tagged fields)
//   GroupMetadataValue v0-v3 => protocol_type string, generation int32, protocol nullable string,
//                               leader nullable string, current_state_timestamp int64 (2+),
//                               [members => member_id string, group_instance_id nullable string (3+),
//                                client_id string, client_host string, rebalance_timeout int32 (1+),
//                                session_timeout int32, subscription bytes, assignment bytes]
//                      v4    => v3's fields, flexible
// A null value (tombstone) deletes the offset or the group; compaction then drops the key.
// Kafka writes OffsetCommitValue v3 (v1 when the commit carries an expire timestamp, which v3 lacks)
// and GroupMetadataValue v3: MetadataVersion.offsetCommitValueVersion / groupMetadataValueVersion.
// Specs: apache/kafka group-coordinator/src/main/resources/common/message/OffsetCommitKey.json,
// OffsetCommitValue.json, GroupMetadataKey.json, GroupMetadataValue.json.

import { invariant } from '@gregor/ground';
import { DecodeError, Reader, Writer } from '@gregor/protocol';

/** Key version Kafka writes for offset commits; version 0 has the same layout and is read too. */
export const offsetCommitKeyVersion = 1;
export const groupMetadataKeyVersion = 2;
export const offsetCommitValueVersionMax = 4;
export const groupMetadataValueVersionMax = 4;
/** The value versions Kafka 2.3+ writes, and so does Gregor. */
export const offsetCommitValueVersionDefault = 3;
export const groupMetadataValueVersionDefault = 3;
/** Kafka's "no leader epoch" (RecordBatch.NO_PARTITION_LEADER_EPOCH) and "no expire timestamp". */
export const noLeaderEpoch = -1;
export const noTimestamp = -1;
/** An int16-prefixed string holds at most this many UTF-8 bytes. */
export const recordStringBytesMax = 0x7fff;

/** Whether `value` (plus `reservedBytes` to be appended to it) fits an int16-prefixed string of the log. */
export function fitsRecordString(value: string, reservedBytes = 0): boolean {
  return Buffer.byteLength(value, 'utf8') + reservedBytes <= recordStringBytesMax;
}

/** One record of the offsets topic as it sits in the log: a key and a value, null for a tombstone. */
export type OffsetsRecord = readonly [key: Buffer, value: Buffer | null];

export type OffsetsRecordKey =
  | {
      readonly kind: 'offsetCommit';
      readonly group: string;
      readonly topic: string;
      readonly partition: number;
    }
  | { readonly kind: 'groupMetadata'; readonly group: string };

export interface OffsetCommitValue {
  readonly offset: bigint;
  /** -1 when unknown; not stored before v3. */
  readonly leaderEpoch: number;
  readonly metadata: string;
  readonly commitTimestampMs: number;
  /** -1 when none; stored in v1 only (commits with an explicit retention time). */
  readonly expireTimestampMs: number;
}

export interface GroupMetadataMember {
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly clientId: string;
  readonly clientHost: string;
  /** Not stored in v0, where it reads back as the session timeout (Kafka does the same). */
  readonly rebalanceTimeoutMs: number;
  readonly sessionTimeoutMs: number;
  /** The member's metadata for the group's selected protocol. */
  readonly subscription: Buffer;
  readonly assignment: Buffer;
}

export interface GroupMetadataValue {
  readonly protocolType: string;
  readonly generation: number;
  readonly protocol: string | null;
  readonly leader: string | null;
  /** -1 when unknown; not stored before v2. */
  readonly currentStateTimestampMs: number;
  readonly members: readonly GroupMetadataMember[];
}

export type DecodedOffsetsRecord =
  | {
      readonly kind: 'offsetCommit';
      readonly group: string;
      readonly topic: string;
      readonly partition: number;
      readonly value: OffsetCommitValue | null;
    }
  | { readonly kind: 'groupMetadata'; readonly group: string; readonly value: GroupMetadataValue | null }
  /** A record type this coordinator does not know (KIP-848 consumer groups, share groups, ...). */
  | { readonly kind: 'unknown'; readonly keyVersion: number };

// ---- primitives that switch on flexible versions ----

function writeString(writer: Writer, value: string | null, flexible: boolean, what: string): void {
  if (value !== null) {
    const byteCount = Buffer.byteLength(value, 'utf8');
    invariant(
      !(byteCount > recordStringBytesMax && !flexible),
      () => `${what} is ${byteCount} bytes, over the int16 limit`,
    );
  }
  if (flexible) writer.compactString(value);
  else writer.string(value);
}

function readString(reader: Reader, flexible: boolean): string {
  return flexible ? reader.compactString() : reader.string();
}

function readNullableString(reader: Reader, flexible: boolean): string | null {
  return flexible ? reader.compactNullableString() : reader.nullableString();
}

function writeBytes(writer: Writer, value: Uint8Array, flexible: boolean): void {
  if (flexible) writer.compactBytes(value);
  else writer.bytes(value);
}

function readBytes(reader: Reader, flexible: boolean): Buffer {
  // Copy out of the log buffer: the coordinator keeps these for the group's lifetime.
  return Buffer.from(flexible ? reader.compactBytes() : reader.bytes());
}

function checkInt32(value: number, what: string): void {
  invariant(
    Number.isInteger(value) && value >= -0x80000000 && value <= 0x7fffffff,
    `${what} is not an int32: ${value}`,
  );
}

function checkTimestamp(value: number, what: string): void {
  invariant(Number.isSafeInteger(value), `${what} is not a safe integer: ${value}`);
}

function expectEnd(reader: Reader, what: string): void {
  if (reader.remaining !== 0) throw new DecodeError(`${reader.remaining} trailing byte(s) after ${what}`);
}

/** Tagged fields are all unknown to us (none are defined yet): read and drop them. */
function skipTaggedFields(reader: Reader): void {
  reader.taggedFields();
}

// ---- keys ----

export function encodeOffsetsKey(key: OffsetsRecordKey): Buffer {
  const writer = new Writer(64);
  if (key.kind === 'offsetCommit') {
    checkInt32(key.partition, 'partition');
    writer.int16(offsetCommitKeyVersion);
    writeString(writer, key.group, false, 'group id');
    writeString(writer, key.topic, false, 'topic');
    writer.int32(key.partition);
  } else {
    writer.int16(groupMetadataKeyVersion);
    writeString(writer, key.group, false, 'group id');
  }
  return writer.toBuffer();
}

/** The key of a record, or `unknown` for a record type this coordinator does not handle. */
export function decodeOffsetsKey(
  bytes: Buffer,
): OffsetsRecordKey | { readonly kind: 'unknown'; readonly keyVersion: number } {
  const reader = new Reader(bytes);
  const version = reader.int16();
  if (version === 0 || version === 1) {
    const group = reader.string();
    const topic = reader.string();
    const partition = reader.int32();
    expectEnd(reader, 'an offset commit key');
    return { kind: 'offsetCommit', group, topic, partition };
  }
  if (version === groupMetadataKeyVersion) {
    const group = reader.string();
    expectEnd(reader, 'a group metadata key');
    return { kind: 'groupMetadata', group };
  }
  if (version < 0) throw new DecodeError(`negative offsets record key version ${version}`);
  return { kind: 'unknown', keyVersion: version };
}

// ---- OffsetCommitValue ----

/** The version Kafka picks: v1 when the commit expires explicitly (v3 has no field for it), else v3. */
export function offsetCommitValueVersionFor(value: OffsetCommitValue): number {
  return value.expireTimestampMs === noTimestamp ? offsetCommitValueVersionDefault : 1;
}

export function encodeOffsetCommitValue(
  value: OffsetCommitValue,
  version = offsetCommitValueVersionFor(value),
): Buffer {
  invariant(
    Number.isInteger(version) && version >= 0 && version <= offsetCommitValueVersionMax,
    `bad OffsetCommitValue version ${version}`,
  );
  checkInt32(value.leaderEpoch, 'leader epoch');
  checkTimestamp(value.commitTimestampMs, 'commit timestamp');
  checkTimestamp(value.expireTimestampMs, 'expire timestamp');
  const flexible = version >= 4;
  const writer = new Writer(64 + value.metadata.length * 3);
  writer.int16(version);
  writer.int64(value.offset);
  if (version >= 3) writer.int32(value.leaderEpoch);
  writeString(writer, value.metadata, flexible, 'offset metadata');
  writer.int64Number(value.commitTimestampMs);
  if (version === 1) writer.int64Number(value.expireTimestampMs);
  if (flexible) writer.taggedFields();
  return writer.toBuffer();
}

export function decodeOffsetCommitValue(bytes: Buffer): OffsetCommitValue {
  const reader = new Reader(bytes);
  const version = reader.int16();
  if (version < 0 || version > offsetCommitValueVersionMax) {
    throw new DecodeError(`unsupported OffsetCommitValue version ${version}`);
  }
  const flexible = version >= 4;
  const offset = reader.int64();
  const leaderEpoch = version >= 3 ? reader.int32() : noLeaderEpoch;
  const metadata = readString(reader, flexible);
  const commitTimestampMs = reader.int64Number();
  const expireTimestampMs = version === 1 ? reader.int64Number() : noTimestamp;
  if (flexible) skipTaggedFields(reader);
  expectEnd(reader, `an OffsetCommitValue v${version}`);
  return { offset, leaderEpoch, metadata, commitTimestampMs, expireTimestampMs };
}

// ---- GroupMetadataValue ----

export function encodeGroupMetadataValue(
  value: GroupMetadataValue,
  version = groupMetadataValueVersionDefault,
): Buffer {
  invariant(
    Number.isInteger(version) && version >= 0 && version <= groupMetadataValueVersionMax,
    `bad GroupMetadataValue version ${version}`,
  );
  checkInt32(value.generation, 'generation');
  checkTimestamp(value.currentStateTimestampMs, 'current state timestamp');
  const flexible = version >= 4;
  const writer = new Writer(256);
  writer.int16(version);
  writeString(writer, value.protocolType, flexible, 'protocol type');
  writer.int32(value.generation);
  writeString(writer, value.protocol, flexible, 'protocol');
  writeString(writer, value.leader, flexible, 'leader');
  if (version >= 2) writer.int64Number(value.currentStateTimestampMs);
  const writeMember = (w: Writer, member: GroupMetadataMember): void => {
    checkInt32(member.rebalanceTimeoutMs, 'rebalance timeout');
    checkInt32(member.sessionTimeoutMs, 'session timeout');
    writeString(w, member.memberId, flexible, 'member id');
    if (version >= 3) writeString(w, member.groupInstanceId, flexible, 'group instance id');
    writeString(w, member.clientId, flexible, 'client id');
    writeString(w, member.clientHost, flexible, 'client host');
    if (version >= 1) w.int32(member.rebalanceTimeoutMs);
    w.int32(member.sessionTimeoutMs);
    writeBytes(w, member.subscription, flexible);
    writeBytes(w, member.assignment, flexible);
    if (flexible) w.taggedFields();
  };
  if (flexible) writer.compactArray(value.members, writeMember);
  else writer.array(value.members, writeMember);
  if (flexible) writer.taggedFields();
  return writer.toBuffer();
}

export function decodeGroupMetadataValue(bytes: Buffer): GroupMetadataValue {
  const reader = new Reader(bytes);
  const version = reader.int16();
  if (version < 0 || version > groupMetadataValueVersionMax) {
    throw new DecodeError(`unsupported GroupMetadataValue version ${version}`);
  }
  const flexible = version >= 4;
  const protocolType = readString(reader, flexible);
  const generation = reader.int32();
  const protocol = readNullableString(reader, flexible);
  const leader = readNullableString(reader, flexible);
  const currentStateTimestampMs = version >= 2 ? reader.int64Number() : noTimestamp;
  const readMember = (r: Reader): GroupMetadataMember => {
    const memberId = readString(r, flexible);
    const groupInstanceId = version >= 3 ? readNullableString(r, flexible) : null;
    const clientId = readString(r, flexible);
    const clientHost = readString(r, flexible);
    const storedRebalanceTimeoutMs = version >= 1 ? r.int32() : null;
    const sessionTimeoutMs = r.int32();
    const subscription = readBytes(r, flexible);
    const assignment = readBytes(r, flexible);
    if (flexible) skipTaggedFields(r);
    return {
      memberId,
      groupInstanceId,
      clientId,
      clientHost,
      rebalanceTimeoutMs: storedRebalanceTimeoutMs ?? sessionTimeoutMs,
      sessionTimeoutMs,
      subscription,
      assignment,
    };
  };
  const members = flexible ? reader.compactArray(readMember) : reader.array(readMember);
  if (flexible) skipTaggedFields(reader);
  expectEnd(reader, `a GroupMetadataValue v${version}`);
  return { protocolType, generation, protocol, leader, currentStateTimestampMs, members };
}

// ---- whole records ----

export function offsetCommitRecord(
  group: string,
  topic: string,
  partition: number,
  value: OffsetCommitValue | null,
): OffsetsRecord {
  return [
    encodeOffsetsKey({ kind: 'offsetCommit', group, topic, partition }),
    value === null ? null : encodeOffsetCommitValue(value),
  ];
}

export function groupMetadataRecord(group: string, value: GroupMetadataValue | null): OffsetsRecord {
  return [
    encodeOffsetsKey({ kind: 'groupMetadata', group }),
    value === null ? null : encodeGroupMetadataValue(value),
  ];
}

/** Decodes one record; malformed bytes raise DecodeError (a corrupt log, not an expected failure). */
export function decodeOffsetsRecord(record: OffsetsRecord): DecodedOffsetsRecord {
  const [keyBytes, valueBytes] = record;
  const key = decodeOffsetsKey(keyBytes);
  if (key.kind === 'unknown') return key;
  if (key.kind === 'offsetCommit') {
    return { ...key, value: valueBytes === null ? null : decodeOffsetCommitValue(valueBytes) };
  }
  return { ...key, value: valueBytes === null ? null : decodeGroupMetadataValue(valueBytes) };
}

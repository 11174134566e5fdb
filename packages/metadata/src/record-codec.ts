// Binary encoding of metadata records, KRaft style: a type id and a version byte, then the fields.
//
//   record        = typeId:uint8 version:uint8 fields
//   brokerIds     = compact array (uvarint count+1) of int32
//   uuid          = 16 raw bytes
//   string        = compact string (uvarint length+1, UTF-8); nullable where the field is
//
//   registerBroker           brokerId:int32 incarnationId:uuid brokerEpoch:int64
//                            listeners:compactArray(name:string host:string port:int32 securityProtocol:int16)
//                            rack:string? fenced:bool inControlledShutdown:bool
//   fenceBroker/unfenceBroker brokerId:int32 brokerEpoch:int64
//   unregisterBroker         brokerId:int32 brokerEpoch:int64
//   brokerRegistrationChange brokerId:int32 brokerEpoch:int64 inControlledShutdown:bool
//   topic                    name:string topicId:uuid
//   partition                topicId:uuid partitionIndex:int32 replicas:brokerIds isr:brokerIds
//                            leader:int32 leaderEpoch:int32 partitionEpoch:int32
//                            v1 adds: addingReplicas:brokerIds removingReplicas:brokerIds
//   partitionChange          topicId:uuid partitionIndex:int32 leader:int32 (-2 = unchanged)
//                            isr:brokerIds? (null = unchanged)
//                            v1 adds: replicas:brokerIds? addingReplicas:brokerIds?
//                            removingReplicas:brokerIds? (null = unchanged)
//   config                   resourceType:int8 resourceName:string name:string value:string?
//   removeTopic              topicId:uuid
//   producerIds              brokerId:int32 brokerEpoch:int64 nextProducerId:int64
//   controllerActivation     controllerId:int32 controllerEpoch:int32
//   brokerReplicasOffline    brokerId:int32 brokerEpoch:int64 logDirs:compactArray(string)
//                            replicas:compactArray(topicId:uuid partitionIndex:int32)
//   userScramCredential      name:string mechanism:int8 salt:bytes storedKey:bytes serverKey:bytes
//                            iterations:int32            (bytes = compact bytes)
//   removeUserScramCredential name:string mechanism:int8
//   delegationToken          tokenId:string owner:string requester:string
//                            renewers:compactArray(string) issueTimestampMs:int64
//                            maxTimestampMs:int64 expirationTimestampMs:int64
//   removeDelegationToken    tokenId:string
//   accessControlEntry       id:uuid resourceType:int8 resourceName:string patternType:int8
//                            principal:string host:string operation:int8 permissionType:int8
//   removeAccessControlEntry id:uuid
//   clientQuota              entity:compactArray(entityType:string entityName:string?) key:string
//                            remove:bool value:float64
//   clusterSecret            secret:bytes
//   featureLevel             name:string level:int16
//
// A batch (one Raft entry, applied atomically) is `count:uvarint (length:uvarint record)*`; the
// length lets the decoder check that each record was read exactly, so a torn or misread field fails
// loudly instead of shifting every field after it.

import { invariant } from '@gregor/ground';
import { DecodeError, Reader, Writer } from '@gregor/protocol';
import {
  type BrokerEndpoint,
  brokerResourceType,
  type MetadataRecord,
  metadataRecordTypeIds,
  noLeader,
  topicResourceType,
} from './records.js';
import { uuidBytes, uuidFromBytes, uuidToBytes } from './uuid.js';

/** Every record type is at version 0; a new field means a new version, decoded beside the old. */
export const metadataRecordVersion = 0;

/**
 * Partition and partition-change records of a reassignment (KIP-455) are written at version 1,
 * which adds its fields; every other one stays at version 0, byte for byte what it was.
 */
const reassignmentRecordVersion = 1;

function recordVersion(record: MetadataRecord): number {
  if (record.type === 'partition') {
    const reassigning = (record.addingReplicas ?? []).length + (record.removingReplicas ?? []).length > 0;
    return reassigning ? reassignmentRecordVersion : metadataRecordVersion;
  }
  if (record.type === 'partitionChange') {
    const reassigning =
      (record.replicas ?? null) !== null ||
      (record.addingReplicas ?? null) !== null ||
      (record.removingReplicas ?? null) !== null;
    return reassigning ? reassignmentRecordVersion : metadataRecordVersion;
  }
  return metadataRecordVersion;
}

/** Upper bound on records in one decoded batch, so a forged count cannot allocate the heap away. */
export const metadataBatchRecordsMax = 1 << 20;

/** Kafka's on-the-wire "leader unchanged" in PartitionChangeRecord. */
const leaderUnchanged = -2;

const typeNamesById = new Map<number, MetadataRecord['type']>(
  Object.entries(metadataRecordTypeIds).map(([name, id]) => [id, name as MetadataRecord['type']]),
);

function writeBrokerIds(writer: Writer, ids: readonly number[] | null): void {
  writer.compactArray(ids, (w, id) => {
    w.int32(id);
  });
}

function readBrokerIds(reader: Reader): number[] {
  return reader.compactArray((r) => r.int32());
}

function writeUuid(writer: Writer, uuid: string): void {
  writer.raw(uuidToBytes(uuid));
}

function readUuid(reader: Reader): string {
  return uuidFromBytes(reader.raw(uuidBytes));
}

/** Appends one record to `writer`. */
export function writeMetadataRecord(writer: Writer, record: MetadataRecord): void {
  const version = recordVersion(record);
  writer.uint8(metadataRecordTypeIds[record.type]).uint8(version);
  switch (record.type) {
    case 'registerBroker':
      writer.int32(record.brokerId);
      writeUuid(writer, record.incarnationId);
      writer.int64Number(record.brokerEpoch);
      writer.compactArray(record.listeners, (w, listener) => {
        w.compactString(listener.name)
          .compactString(listener.host)
          .int32(listener.port)
          .int16(listener.securityProtocol);
      });
      writer.compactString(record.rack).boolean(record.fenced).boolean(record.inControlledShutdown);
      return;
    case 'fenceBroker':
    case 'unfenceBroker':
    case 'unregisterBroker':
      writer.int32(record.brokerId).int64Number(record.brokerEpoch);
      return;
    case 'brokerRegistrationChange':
      writer.int32(record.brokerId).int64Number(record.brokerEpoch).boolean(record.inControlledShutdown);
      return;
    case 'topic':
      writer.compactString(record.name);
      writeUuid(writer, record.topicId);
      return;
    case 'partition':
      writeUuid(writer, record.topicId);
      writer.int32(record.partitionIndex);
      writeBrokerIds(writer, record.replicas);
      writeBrokerIds(writer, record.isr);
      writer.int32(record.leader).int32(record.leaderEpoch).int32(record.partitionEpoch);
      if (version === reassignmentRecordVersion) {
        writeBrokerIds(writer, record.addingReplicas ?? []);
        writeBrokerIds(writer, record.removingReplicas ?? []);
      }
      return;
    case 'partitionChange':
      invariant(
        record.leader === null || record.leader >= noLeader,
        () => `partition change leader ${record.leader} (use null for "unchanged")`,
      );
      writeUuid(writer, record.topicId);
      writer.int32(record.partitionIndex).int32(record.leader ?? leaderUnchanged);
      writeBrokerIds(writer, record.isr);
      if (version === reassignmentRecordVersion) {
        writeBrokerIds(writer, record.replicas ?? null);
        writeBrokerIds(writer, record.addingReplicas ?? null);
        writeBrokerIds(writer, record.removingReplicas ?? null);
      }
      return;
    case 'config':
      writer
        .int8(record.resourceType)
        .compactString(record.resourceName)
        .compactString(record.name)
        .compactString(record.value);
      return;
    case 'removeTopic':
      writeUuid(writer, record.topicId);
      return;
    case 'producerIds':
      writer.int32(record.brokerId).int64Number(record.brokerEpoch).int64Number(record.nextProducerId);
      return;
    case 'controllerActivation':
      writer.int32(record.controllerId).int32(record.controllerEpoch);
      return;
    case 'userScramCredential':
      writer
        .compactString(record.name)
        .int8(record.mechanism)
        .compactBytes(record.salt)
        .compactBytes(record.storedKey)
        .compactBytes(record.serverKey)
        .int32(record.iterations);
      return;
    case 'removeUserScramCredential':
      writer.compactString(record.name).int8(record.mechanism);
      return;
    case 'delegationToken':
      writer.compactString(record.tokenId).compactString(record.owner).compactString(record.requester);
      writer.compactArray(record.renewers, (w, renewer) => {
        w.compactString(renewer);
      });
      writer
        .int64Number(record.issueTimestampMs)
        .int64Number(record.maxTimestampMs)
        .int64Number(record.expirationTimestampMs);
      return;
    case 'removeDelegationToken':
      writer.compactString(record.tokenId);
      return;
    case 'accessControlEntry':
      writeUuid(writer, record.id);
      writer
        .int8(record.resourceType)
        .compactString(record.resourceName)
        .int8(record.patternType)
        .compactString(record.principal)
        .compactString(record.host)
        .int8(record.operation)
        .int8(record.permissionType);
      return;
    case 'removeAccessControlEntry':
      writeUuid(writer, record.id);
      return;
    case 'clientQuota':
      writer.compactArray(record.entity, (w, component) => {
        w.compactString(component.entityType).compactString(component.entityName);
      });
      writer
        .compactString(record.key)
        .boolean(record.value === null)
        .float64(record.value ?? 0);
      return;
    case 'clusterSecret':
      writer.compactBytes(record.secret);
      return;
    case 'featureLevel':
      writer.compactString(record.name).int16(record.level);
      return;
    case 'brokerReplicasOffline':
      writer.int32(record.brokerId).int64Number(record.brokerEpoch);
      writer.compactArray(record.logDirs, (w, logDir) => {
        w.compactString(logDir);
      });
      writer.compactArray(record.replicas, (w, replica) => {
        writeUuid(w, replica.topicId);
        w.int32(replica.partitionIndex);
      });
      return;
  }
}

/** Reads one record at the reader's position; throws DecodeError on anything malformed. */
export function readMetadataRecord(reader: Reader): MetadataRecord {
  const typeId = reader.uint8();
  const type = typeNamesById.get(typeId);
  if (type === undefined) throw new DecodeError(`unknown metadata record type ${typeId}`);
  const version = reader.uint8();
  const reassignable = type === 'partition' || type === 'partitionChange';
  if (version !== metadataRecordVersion && !(reassignable && version === reassignmentRecordVersion)) {
    throw new DecodeError(`unsupported version ${version} of metadata record ${type}`);
  }
  switch (type) {
    case 'registerBroker': {
      const brokerId = reader.int32();
      const incarnationId = readUuid(reader);
      const brokerEpoch = reader.int64Number();
      const listeners = reader.compactArray(
        (r): BrokerEndpoint => ({
          name: r.compactString(),
          host: r.compactString(),
          port: r.int32(),
          securityProtocol: r.int16(),
        }),
      );
      const rack = reader.compactNullableString();
      const fenced = reader.boolean();
      const inControlledShutdown = reader.boolean();
      return { type, brokerId, incarnationId, brokerEpoch, listeners, rack, fenced, inControlledShutdown };
    }
    case 'fenceBroker':
    case 'unfenceBroker':
    case 'unregisterBroker': {
      const brokerId = reader.int32();
      return { type, brokerId, brokerEpoch: reader.int64Number() };
    }
    case 'brokerRegistrationChange': {
      const brokerId = reader.int32();
      const brokerEpoch = reader.int64Number();
      return { type, brokerId, brokerEpoch, inControlledShutdown: reader.boolean() };
    }
    case 'topic': {
      const name = reader.compactString();
      return { type, name, topicId: readUuid(reader) };
    }
    case 'partition': {
      const topicId = readUuid(reader);
      const partitionIndex = reader.int32();
      const replicas = readBrokerIds(reader);
      const isr = readBrokerIds(reader);
      const leader = reader.int32();
      const leaderEpoch = reader.int32();
      const partitionEpoch = reader.int32();
      const record = { type, topicId, partitionIndex, replicas, isr, leader, leaderEpoch, partitionEpoch };
      if (version !== reassignmentRecordVersion) return record;
      return { ...record, addingReplicas: readBrokerIds(reader), removingReplicas: readBrokerIds(reader) };
    }
    case 'partitionChange': {
      const topicId = readUuid(reader);
      const partitionIndex = reader.int32();
      const leader = reader.int32();
      if (leader < leaderUnchanged) throw new DecodeError(`invalid partition change leader ${leader}`);
      const isr = reader.compactNullableArray((r) => r.int32());
      const record = {
        type,
        topicId,
        partitionIndex,
        leader: leader === leaderUnchanged ? null : leader,
        isr,
      };
      if (version !== reassignmentRecordVersion) return record;
      return {
        ...record,
        replicas: reader.compactNullableArray((r) => r.int32()),
        addingReplicas: reader.compactNullableArray((r) => r.int32()),
        removingReplicas: reader.compactNullableArray((r) => r.int32()),
      };
    }
    case 'config': {
      const resourceType = reader.int8();
      if (resourceType !== topicResourceType && resourceType !== brokerResourceType) {
        throw new DecodeError(`unsupported config resource type ${resourceType}`);
      }
      const resourceName = reader.compactString();
      const name = reader.compactString();
      return { type, resourceType, resourceName, name, value: reader.compactNullableString() };
    }
    case 'removeTopic':
      return { type, topicId: readUuid(reader) };
    case 'producerIds': {
      const brokerId = reader.int32();
      const brokerEpoch = reader.int64Number();
      return { type, brokerId, brokerEpoch, nextProducerId: reader.int64Number() };
    }
    case 'controllerActivation': {
      const controllerId = reader.int32();
      return { type, controllerId, controllerEpoch: reader.int32() };
    }
    case 'userScramCredential': {
      const name = reader.compactString();
      const mechanism = reader.int8();
      const salt = Buffer.from(reader.compactBytes());
      const storedKey = Buffer.from(reader.compactBytes());
      const serverKey = Buffer.from(reader.compactBytes());
      return { type, name, mechanism, salt, storedKey, serverKey, iterations: reader.int32() };
    }
    case 'removeUserScramCredential': {
      const name = reader.compactString();
      return { type, name, mechanism: reader.int8() };
    }
    case 'delegationToken': {
      const tokenId = reader.compactString();
      const owner = reader.compactString();
      const requester = reader.compactString();
      const renewers = reader.compactArray((r) => r.compactString());
      const issueTimestampMs = reader.int64Number();
      const maxTimestampMs = reader.int64Number();
      const expirationTimestampMs = reader.int64Number();
      return {
        type,
        tokenId,
        owner,
        requester,
        renewers,
        issueTimestampMs,
        maxTimestampMs,
        expirationTimestampMs,
      };
    }
    case 'removeDelegationToken':
      return { type, tokenId: reader.compactString() };
    case 'accessControlEntry': {
      const id = readUuid(reader);
      const resourceType = reader.int8();
      const resourceName = reader.compactString();
      const patternType = reader.int8();
      const principal = reader.compactString();
      const host = reader.compactString();
      const operation = reader.int8();
      return {
        type,
        id,
        resourceType,
        resourceName,
        patternType,
        principal,
        host,
        operation,
        permissionType: reader.int8(),
      };
    }
    case 'removeAccessControlEntry':
      return { type, id: readUuid(reader) };
    case 'clientQuota': {
      const entity = reader.compactArray((r) => ({
        entityType: r.compactString(),
        entityName: r.compactNullableString(),
      }));
      const key = reader.compactString();
      const remove = reader.boolean();
      const value = reader.float64();
      return { type, entity, key, value: remove ? null : value };
    }
    case 'clusterSecret':
      return { type, secret: Buffer.from(reader.compactBytes()) };
    case 'featureLevel': {
      const name = reader.compactString();
      return { type, name, level: reader.int16() };
    }
    case 'brokerReplicasOffline': {
      const brokerId = reader.int32();
      const brokerEpoch = reader.int64Number();
      const logDirs = reader.compactArray((r) => r.compactString());
      const replicas = reader.compactArray((r) => ({ topicId: readUuid(r), partitionIndex: r.int32() }));
      return { type, brokerId, brokerEpoch, logDirs, replicas };
    }
  }
}

export function encodeMetadataRecord(record: MetadataRecord): Buffer {
  const writer = new Writer();
  writeMetadataRecord(writer, record);
  return writer.toBuffer();
}

/** Decodes exactly one record; trailing bytes are an error. */
export function decodeMetadataRecord(bytes: Buffer): MetadataRecord {
  const reader = new Reader(bytes);
  const record = readMetadataRecord(reader);
  if (reader.remaining !== 0) {
    throw new DecodeError(`${reader.remaining} trailing byte(s) after metadata record ${record.type}`);
  }
  return record;
}

function writeRecordList(writer: Writer, records: readonly MetadataRecord[]): void {
  writer.uvarint(records.length);
  for (const record of records) {
    const encoded = encodeMetadataRecord(record);
    writer.uvarint(encoded.length).raw(encoded);
  }
}

function readRecordList(reader: Reader, recordsMax: number): MetadataRecord[] {
  const count = reader.uvarint();
  if (count > recordsMax || count > reader.remaining) {
    throw new DecodeError(`invalid metadata record count ${count} with ${reader.remaining} byte(s) left`);
  }
  const records: MetadataRecord[] = [];
  for (let i = 0; i < count; i++) {
    const length = reader.uvarint();
    records.push(decodeMetadataRecord(reader.raw(length)));
  }
  return records;
}

/** One atomic batch of records: the payload of one Raft entry. */
export function encodeMetadataBatch(records: readonly MetadataRecord[]): Buffer {
  invariant(records.length > 0, 'a metadata batch holds at least one record');
  invariant(records.length <= metadataBatchRecordsMax, () => `batch of ${records.length} records`);
  const writer = new Writer();
  writeRecordList(writer, records);
  return writer.toBuffer();
}

export function decodeMetadataBatch(bytes: Buffer): MetadataRecord[] {
  const reader = new Reader(bytes);
  const records = readRecordList(reader, metadataBatchRecordsMax);
  if (records.length === 0) throw new DecodeError('empty metadata batch');
  if (reader.remaining !== 0) throw new DecodeError(`${reader.remaining} trailing byte(s) after batch`);
  return records;
}

/** @internal Shared with the snapshot codec. */
export const recordListCodec = { write: writeRecordList, read: readRecordList };

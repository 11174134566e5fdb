// The one interpreter for every message schema: encodes and decodes any declared message at any of
// its versions. Rules (from Kafka's message generator):
// - flexible versions use compact strings/bytes/arrays (unsigned varint length + 1, 0 = null) and
//   end every struct with a tagged-field section; other versions use int16 string lengths, int32
//   byte and array lengths, -1 = null;
// - a field absent in a version is skipped on encode (a non-default value there is an EncodeError,
//   unless the field is ignorable) and decodes as its default;
// - a tagged field is written only when it differs from its default; unknown tags are skipped on
//   decode and kept in `unknownTaggedFields`, so a decoded message re-encodes to the same bytes.
// Decoding malformed input throws DecodeError (from the Reader); frames.ts turns it into a value.

import { Buffer } from 'node:buffer';
import { DecodeError, Reader } from '../reader.js';
import { Writer } from '../writer.js';
import {
  type Decoded,
  defaultValue,
  type EncodeInput,
  type FieldSpec,
  type Fields,
  fieldSpecs,
  inVersions,
  isDefault,
  orDefault,
  type TypeSpec,
  type VersionRange,
} from './schema.js';

/** Encoding a value the schema cannot carry: a bug in the caller, never a peer's fault. */
export class EncodeError extends Error {
  override readonly name = 'EncodeError';
}

export interface MessageSchema<F extends Fields> {
  readonly name: string;
  readonly validVersions: VersionRange;
  readonly flexibleVersions: VersionRange;
  readonly fields: F;
  readonly specs: readonly FieldSpec[];
}

export function defineMessage<F extends Fields>(
  name: string,
  validVersions: VersionRange,
  flexibleVersions: VersionRange,
  fields: F,
): MessageSchema<F> {
  return { name, validVersions, flexibleVersions, fields, specs: fieldSpecs(fields) };
}

interface Context {
  readonly version: number;
  readonly flexible: boolean;
}

export function encodeMessage<F extends Fields>(
  schema: MessageSchema<F>,
  version: number,
  value: EncodeInput<F>,
  writer: Writer = new Writer(),
): Writer {
  if (!inVersions(schema.validVersions, version)) {
    throw new EncodeError(`${schema.name} has no version ${version}`);
  }
  const context = { version, flexible: inVersions(schema.flexibleVersions, version) };
  writeStruct(writer, schema.specs, value as Record<string, unknown>, context, schema.name);
  return writer;
}

/** Decodes one message from `reader`; throws DecodeError on malformed input. */
export function decodeMessage<F extends Fields>(
  schema: MessageSchema<F>,
  version: number,
  reader: Reader,
): Decoded<F> {
  if (!inVersions(schema.validVersions, version)) {
    throw new DecodeError(`${schema.name} has no version ${version}`);
  }
  const context = { version, flexible: inVersions(schema.flexibleVersions, version) };
  return readStruct(reader, schema.specs, context) as Decoded<F>;
}

function isTaggedIn(field: FieldSpec, context: Context): boolean {
  return context.flexible && field.tag !== null && inVersions(field.taggedVersions, context.version);
}

function writeStruct(
  writer: Writer,
  fields: readonly FieldSpec[],
  value: Record<string, unknown>,
  context: Context,
  path: string,
): void {
  const tagged = new Map<number, Uint8Array>();
  for (const field of fields) {
    const fieldValue = value[field.name];
    const fieldPath = `${path}.${field.name}`;
    if (!inVersions(field.versions, context.version)) {
      if (fieldValue !== undefined && !field.ignorable && !isDefault(field, fieldValue)) {
        throw new EncodeError(`${fieldPath} is not in version ${context.version} and is not ignorable`);
      }
      continue;
    }
    const actual = orDefault(field, fieldValue);
    const nullable = inVersions(field.nullableVersions, context.version);
    if (isTaggedIn(field, context)) {
      if (isDefault(field, actual)) continue;
      const fieldWriter = new Writer(64);
      writeValue(fieldWriter, field.type, actual, nullable, context, fieldPath);
      tagged.set(field.tag!, fieldWriter.view());
      continue;
    }
    writeValue(writer, field.type, actual, nullable, context, fieldPath);
  }
  if (!context.flexible) return;
  const unknown = (value as { unknownTaggedFields?: ReadonlyMap<number, Buffer> }).unknownTaggedFields;
  if (unknown) {
    for (const [tag, bytes] of unknown) if (!tagged.has(tag)) tagged.set(tag, bytes);
  }
  writer.taggedFields(tagged);
}

function writeValue(
  writer: Writer,
  type: TypeSpec,
  value: unknown,
  nullable: boolean,
  context: Context,
  path: string,
): void {
  if (value === null) {
    if (!nullable) throw new EncodeError(`${path} is null but not nullable in version ${context.version}`);
    switch (type.kind) {
      case 'string':
        context.flexible ? writer.compactString(null) : writer.string(null);
        return;
      case 'bytes':
      case 'records':
        context.flexible ? writer.compactBytes(null) : writer.bytes(null);
        return;
      case 'array':
        context.flexible ? writer.uvarint(0) : writer.int32(-1);
        return;
      case 'struct':
        writer.int8(-1);
        return;
      default:
        throw new EncodeError(`${path}: type ${type.kind} has no null`);
    }
  }
  switch (type.kind) {
    case 'int8':
      writer.int8(value as number);
      return;
    case 'int16':
      writer.int16(value as number);
      return;
    case 'int32':
      writer.int32(value as number);
      return;
    case 'uint16':
      writer.uint16(value as number);
      return;
    case 'int64':
      writer.int64(typeof value === 'bigint' ? value : BigInt(value as number));
      return;
    case 'float64':
      writer.float64(value as number);
      return;
    case 'bool':
      writer.boolean(value as boolean);
      return;
    case 'string':
      context.flexible ? writer.compactString(value as string) : writer.string(value as string);
      return;
    case 'bytes':
    case 'records':
      context.flexible ? writer.compactBytes(value as Uint8Array) : writer.bytes(value as Uint8Array);
      return;
    case 'uuid':
      writer.raw(uuidBytes(value as string, path));
      return;
    case 'array': {
      const items = value as readonly unknown[];
      context.flexible ? writer.uvarint(items.length + 1) : writer.int32(items.length);
      items.forEach((item, index) => {
        writeValue(writer, type.items, item, false, context, `${path}[${index}]`);
      });
      return;
    }
    case 'struct':
      if (nullable) writer.int8(1);
      writeStruct(writer, type.fields, value as Record<string, unknown>, context, path);
      return;
  }
}

function uuidBytes(value: string, path: string): Buffer {
  if (!/^[0-9a-f]{32}$/.test(value)) throw new EncodeError(`${path}: uuid must be 32 lowercase hex digits`);
  return Buffer.from(value, 'hex');
}

function readStruct(reader: Reader, fields: readonly FieldSpec[], context: Context): Record<string, unknown> {
  const value: Record<string, unknown> = {};
  for (const field of fields) {
    if (!inVersions(field.versions, context.version) || isTaggedIn(field, context)) {
      value[field.name] = defaultValue(field);
      continue;
    }
    value[field.name] = readValue(reader, field, context);
  }
  if (!context.flexible) return value;
  let unknown: Map<number, Buffer> | undefined;
  for (const [tag, bytes] of reader.taggedFields()) {
    const field = fields.find(
      (candidate) =>
        candidate.tag === tag &&
        inVersions(candidate.versions, context.version) &&
        isTaggedIn(candidate, context),
    );
    if (field === undefined) {
      unknown ??= new Map();
      unknown.set(tag, bytes);
      continue;
    }
    const fieldReader = new Reader(bytes);
    value[field.name] = readValue(fieldReader, field, context);
    if (fieldReader.remaining !== 0) {
      throw new DecodeError(
        `tagged field ${field.name} (tag ${tag}) has ${fieldReader.remaining} trailing byte(s)`,
      );
    }
  }
  if (unknown) value.unknownTaggedFields = unknown;
  return value;
}

function readValue(reader: Reader, field: FieldSpec, context: Context): unknown {
  const nullable = inVersions(field.nullableVersions, context.version);
  // A nullable struct starts with a marker byte: negative for null (Kafka's generated readers).
  if (field.type.kind === 'struct' && nullable && reader.int8() < 0) return null;
  const value = readTyped(reader, field.type, context);
  if (value === null && !nullable) {
    throw new DecodeError(`${field.name} is null but not nullable in version ${context.version}`);
  }
  return value;
}

function readTyped(reader: Reader, type: TypeSpec, context: Context): unknown {
  switch (type.kind) {
    case 'int8':
      return reader.int8();
    case 'int16':
      return reader.int16();
    case 'int32':
      return reader.int32();
    case 'uint16':
      return reader.uint16();
    case 'int64':
      return reader.int64();
    case 'float64':
      return reader.float64();
    case 'bool':
      return reader.boolean();
    case 'string':
      return context.flexible ? reader.compactNullableString() : reader.nullableString();
    case 'bytes':
    case 'records':
      return context.flexible ? reader.compactNullableBytes() : reader.nullableBytes();
    case 'uuid':
      return reader.raw(16).toString('hex');
    case 'array': {
      const readItem = (itemReader: Reader): unknown => {
        const item = readTyped(itemReader, type.items, context);
        if (item === null) throw new DecodeError('null array element');
        return item;
      };
      return context.flexible ? reader.compactNullableArray(readItem) : reader.nullableArray(readItem);
    }
    case 'struct':
      return readStruct(reader, type.fields, context);
  }
}

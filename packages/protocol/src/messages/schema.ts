// The message schema DSL: one declaration per Kafka API message, transcribed from Apache Kafka's
// JSON message specs (clients/src/main/resources/common/message/*.json). A declaration is plain
// data read by one interpreter (codec.ts) for every version, in both directions; its TypeScript
// types (Decoded<F>, EncodeInput<F>) are computed from the same declaration, so a handler's view of
// a message can never drift from the bytes.
//
// Mapping from the JSON spec:
//   "versions": "3+"                 -> f.int32('3+')
//   "nullableVersions": "1+"         -> { nullableVersions: '1+' }        (adds `| null` to the type)
//   "tag": 0, "taggedVersions": "3+" -> { tag: 0, taggedVersions: '3+' }
//   "ignorable": true                -> { ignorable: true }
//   "default": "-1"                  -> { default: -1 }                   (typed, not a string)
//   "type": "[]Topic", "fields": ... -> f.array('0+', { ...fields })
//   "type": "[]int32"                -> f.array('0+', t.int32)
//   "type": "LeaderIdAndEpoch" (struct, not array) -> f.struct('12+', { ...fields })
// Field names are camelCased JSON names; field order is the object's key order (the wire order).

import { Buffer } from 'node:buffer';

/** An inclusive range of versions; `max` is Infinity for "N+", and `min > max` means "none". */
export interface VersionRange {
  readonly min: number;
  readonly max: number;
}

export const noVersions: VersionRange = { min: 1, max: 0 };

/** Parses Kafka's version syntax: "none", "3", "3+", "3-5". */
export function parseVersions(text: string): VersionRange {
  if (text === 'none') return noVersions;
  const plus = /^(\d+)\+$/.exec(text);
  if (plus) return { min: Number(plus[1]), max: Number.POSITIVE_INFINITY };
  const range = /^(\d+)-(\d+)$/.exec(text);
  if (range) return { min: Number(range[1]), max: Number(range[2]) };
  const single = /^(\d+)$/.exec(text);
  if (single) return { min: Number(single[1]), max: Number(single[1]) };
  throw new Error(`invalid version range '${text}'`);
}

export function inVersions(range: VersionRange, version: number): boolean {
  return version >= range.min && version <= range.max;
}

export type ScalarKind =
  | 'int8'
  | 'int16'
  | 'int32'
  | 'int64'
  | 'uint16'
  | 'float64'
  | 'bool'
  | 'string'
  | 'bytes'
  | 'records'
  | 'uuid';

/** The runtime description of a type, read by the interpreter. */
export type TypeSpec =
  | { readonly kind: ScalarKind }
  | { readonly kind: 'array'; readonly items: TypeSpec }
  | { readonly kind: 'struct'; readonly fields: readonly FieldSpec[] };

/** The runtime description of a field, read by the interpreter. */
export interface FieldSpec {
  readonly name: string;
  readonly type: TypeSpec;
  readonly versions: VersionRange;
  /** Versions where null is allowed; `noVersions` when never. */
  readonly nullableVersions: VersionRange;
  /** Tag number in the tagged-field section, or null for a regular field. */
  readonly tag: number | null;
  /** Versions where the field travels as a tagged field; `noVersions` when never. */
  readonly taggedVersions: VersionRange;
  /** Encoding a non-default value in a version without the field is dropped silently, not an error. */
  readonly ignorable: boolean;
  /** The spec's explicit default; undefined means the type's zero value. */
  readonly explicitDefault: unknown;
}

/** A type with its decoded TypeScript type T and the type accepted for encoding I (phantoms only). */
export interface Type<T, I> {
  readonly spec: TypeSpec;
  readonly __decoded?: T;
  readonly __input?: I;
}

/** A field before it is given its name by the enclosing struct. R: whether encoders must supply it. */
export interface Field<T, I, R extends boolean> {
  readonly spec: Omit<FieldSpec, 'name'>;
  readonly __decoded?: T;
  readonly __input?: I;
  readonly __required?: R;
}

// biome-ignore lint/suspicious/noExplicitAny: a field of any type; the phantoms carry the real types
export type AnyField = Field<any, any, boolean>;
export type Fields = { readonly [name: string]: AnyField };

/** Tagged fields a decoder did not know, kept so a message can be re-encoded byte for byte. */
export interface UnknownTaggedFields {
  unknownTaggedFields?: ReadonlyMap<number, Buffer>;
}

/** The object a decoder returns: every field present (fields absent in the version hold their default). */
export type Decoded<F extends Fields> = {
  -readonly [K in keyof F]: F[K] extends Field<infer T, unknown, boolean> ? T : never;
} & UnknownTaggedFields;

type RequiredKeys<F extends Fields> = {
  [K in keyof F]: F[K] extends Field<unknown, unknown, true> ? K : never;
}[keyof F];
type InputOf<X> = X extends Field<unknown, infer I, boolean> ? I : never;

/**
 * The object an encoder accepts: fields present since version 0 without an explicit default are
 * required; the others may be left out and encode as their default.
 */
export type EncodeInput<F extends Fields> = {
  [K in RequiredKeys<F>]: InputOf<F[K]>;
} & {
  [K in Exclude<keyof F, RequiredKeys<F>>]?: InputOf<F[K]>;
} & UnknownTaggedFields;

export interface FieldOptions<T> {
  readonly nullableVersions?: string;
  readonly tag?: number;
  readonly taggedVersions?: string;
  readonly ignorable?: boolean;
  readonly default?: T;
  /** The spec's "about" text, kept where it explains a non-obvious field. */
  readonly about?: string;
}

type WithNull<O, T> = O extends { nullableVersions: string } ? T | null : T;
type IsRequired<V extends string, O> = O extends { default: unknown }
  ? false
  : O extends { tag: number }
    ? false
    : V extends `0${string}`
      ? true
      : false;

function scalarType<T, I = T>(kind: ScalarKind): Type<T, I> {
  return { spec: { kind } };
}

/** Element types for arrays of scalars: `f.array('0+', t.int32)` is Kafka's "[]int32". */
export const t = {
  int8: scalarType<number>('int8'),
  int16: scalarType<number>('int16'),
  int32: scalarType<number>('int32'),
  int64: scalarType<bigint, bigint | number>('int64'),
  uint16: scalarType<number>('uint16'),
  float64: scalarType<number>('float64'),
  bool: scalarType<boolean>('bool'),
  string: scalarType<string>('string'),
  bytes: scalarType<Buffer>('bytes'),
  uuid: scalarType<string>('uuid'),
} as const;

export function struct<F extends Fields>(fields: F): Type<Decoded<F>, EncodeInput<F>> {
  return { spec: { kind: 'struct', fields: fieldSpecs(fields) } };
}

/** Names each field after its key, in declaration (= wire) order. */
export function fieldSpecs(fields: Fields): FieldSpec[] {
  const specs: FieldSpec[] = [];
  const tags = new Set<number>();
  for (const [name, field] of Object.entries(fields)) {
    if (field.spec.tag !== null) {
      if (tags.has(field.spec.tag)) throw new Error(`duplicate tag ${field.spec.tag} at field ${name}`);
      tags.add(field.spec.tag);
    }
    specs.push({ name, ...field.spec });
  }
  return specs;
}

function makeField<T, I, R extends boolean>(
  type: TypeSpec,
  versions: string,
  options: FieldOptions<unknown> | undefined,
): Field<T, I, R> {
  const tag = options?.tag ?? null;
  if ((tag === null) !== (options?.taggedVersions === undefined)) {
    throw new Error('a tagged field needs both tag and taggedVersions');
  }
  return {
    spec: {
      type,
      versions: parseVersions(versions),
      nullableVersions: options?.nullableVersions ? parseVersions(options.nullableVersions) : noVersions,
      tag,
      taggedVersions: options?.taggedVersions ? parseVersions(options.taggedVersions) : noVersions,
      ignorable: options?.ignorable ?? false,
      explicitDefault: options?.default,
    },
  };
}

function scalarField<T, I = T>(kind: ScalarKind) {
  return <V extends string, O extends FieldOptions<T | null> = Record<never, never>>(
    versions: V,
    options?: O,
  ): Field<WithNull<O, T>, WithNull<O, I>, IsRequired<V, O>> => makeField({ kind }, versions, options);
}

/** Field builders, one per JSON spec type. */
export const f = {
  int8: scalarField<number>('int8'),
  int16: scalarField<number>('int16'),
  int32: scalarField<number>('int32'),
  /** Decoded as bigint; encoders also accept a number (exact up to 2^53). */
  int64: scalarField<bigint, bigint | number>('int64'),
  uint16: scalarField<number>('uint16'),
  float64: scalarField<number>('float64'),
  bool: scalarField<boolean>('bool'),
  string: scalarField<string>('string'),
  bytes: scalarField<Buffer>('bytes'),
  /** 16 bytes on the wire, 32 lowercase hex digits in TypeScript. */
  uuid: scalarField<string>('uuid'),
  /** A record set as raw bytes (a run of record batches, or an old message set); always nullable. */
  records<V extends string, O extends FieldOptions<Buffer | null> = Record<never, never>>(
    versions: V,
    options?: O,
  ): Field<Buffer | null, Buffer | null, IsRequired<V, O>> {
    return makeField({ kind: 'records' }, versions, { nullableVersions: '0+', ...options });
  },
  /** An array of structs (`fields`) or of a scalar element type (`t.int32`). */
  array<V extends string, E, EI, O extends FieldOptions<never[] | null> = Record<never, never>>(
    versions: V,
    items: Type<E, EI>,
    options?: O,
  ): Field<WithNull<O, E[]>, WithNull<O, EI[]>, IsRequired<V, O>> {
    return makeField({ kind: 'array', items: items.spec }, versions, options);
  },
  structArray<
    V extends string,
    F extends Fields,
    O extends FieldOptions<never[] | null> = Record<never, never>,
  >(
    versions: V,
    fields: F,
    options?: O,
  ): Field<WithNull<O, Decoded<F>[]>, WithNull<O, EncodeInput<F>[]>, IsRequired<V, O>> {
    return makeField({ kind: 'array', items: struct(fields).spec }, versions, options);
  },
  /**
   * A single nested struct (Kafka's non-array struct type). Nullable in `nullableVersions`: then an
   * int8 marker precedes it on the wire, -1 for null and 1 for a struct, as Kafka's generated code
   * writes it (DescribeTopicPartitions' cursor).
   */
  struct<V extends string, F extends Fields, O extends FieldOptions<null> = Record<never, never>>(
    versions: V,
    fields: F,
    options?: O,
  ): Field<WithNull<O, Decoded<F>>, WithNull<O, EncodeInput<F>>, IsRequired<V, O>> {
    return makeField(struct(fields).spec, versions, options);
  },
} as const;

export const zeroUuid = '00000000000000000000000000000000';

/** The value a field holds when it is absent in a version or left out by an encoder. */
export function defaultValue(field: FieldSpec): unknown {
  if (field.explicitDefault !== undefined) {
    const value = field.explicitDefault;
    // Arrays and buffers are copied so callers can never mutate a shared default.
    if (Array.isArray(value)) return [...value];
    return value;
  }
  return zeroValue(field.type);
}

export function zeroValue(type: TypeSpec): unknown {
  switch (type.kind) {
    case 'int8':
    case 'int16':
    case 'int32':
    case 'uint16':
    case 'float64':
      return 0;
    case 'int64':
      return 0n;
    case 'bool':
      return false;
    case 'string':
      return '';
    case 'bytes':
      return Buffer.alloc(0);
    case 'records':
      return null;
    case 'uuid':
      return zeroUuid;
    case 'array':
      return [];
    case 'struct': {
      const value: Record<string, unknown> = {};
      for (const field of type.fields) value[field.name] = defaultValue(field);
      return value;
    }
  }
}

/** Structural equality of two values of one type (int64 compares a number with a bigint exactly). */
export function valuesEqual(type: TypeSpec, a: unknown, b: unknown): boolean {
  if (a === null || b === null) return a === b;
  switch (type.kind) {
    case 'int64':
      return BigInt(a as bigint | number) === BigInt(b as bigint | number);
    case 'bytes':
    case 'records':
      return (a as Buffer).equals(b as Buffer);
    case 'array': {
      const left = a as unknown[];
      const right = b as unknown[];
      return left.length === right.length && left.every((item, i) => valuesEqual(type.items, item, right[i]));
    }
    case 'struct': {
      const left = a as Record<string, unknown>;
      const right = b as Record<string, unknown>;
      return type.fields.every((field) =>
        valuesEqual(field.type, orDefault(field, left[field.name]), orDefault(field, right[field.name])),
      );
    }
    default:
      return a === b;
  }
}

/** An encoder's input value, with a left-out (undefined) field replaced by its default. */
export function orDefault(field: FieldSpec, value: unknown): unknown {
  return value === undefined ? defaultValue(field) : value;
}

export function isDefault(field: FieldSpec, value: unknown): boolean {
  return valuesEqual(field.type, value, defaultValue(field));
}

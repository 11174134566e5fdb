// Random message values that honour a schema at one version: fields absent in the version hold
// their default, null appears only where the version allows it. Used by the round-trip tests and
// usable by fuzzers in the simulation. Randomness comes from the caller (seeded), never Math.random.

import { Buffer } from 'node:buffer';
import type { MessageSchema } from './codec.js';
import {
  type Decoded,
  defaultValue,
  type FieldSpec,
  type Fields,
  inVersions,
  type TypeSpec,
} from './schema.js';

/**
 * The source of randomness: a uniformly distributed unsigned 32-bit integer per call (@gregor/ground's
 * SeededRandom is one).
 */
export interface RandomSource {
  nextUint32(): number;
}

const arrayLengthMax = 3;
const stringLengthMax = 12;
const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789-_.é日';

/** A random int in [0, boundExclusive) (modulo: the small bias does not matter to fuzzing). */
export function randomBelow(random: RandomSource, boundExclusive: number): number {
  return random.nextUint32() % boundExclusive;
}

/** One of `items`, at random. */
export function randomPick<T>(random: RandomSource, items: readonly T[]): T {
  return items[randomBelow(random, items.length)]!;
}

/** `length` random bytes. */
export function randomBytes(random: RandomSource, length: number): Buffer {
  const bytes = Buffer.allocUnsafe(length);
  for (let index = 0; index < length; index++) bytes[index] = random.nextUint32() & 0xff;
  return bytes;
}

const below = randomBelow;

function signedInt(random: RandomSource, bits: 8 | 16 | 32): number {
  return (random.nextUint32() << (32 - bits)) >> (32 - bits);
}

export function randomMessage<F extends Fields>(
  schema: MessageSchema<F>,
  version: number,
  random: RandomSource,
): Decoded<F> {
  return randomStruct(schema.specs, version, random) as Decoded<F>;
}

function randomStruct(
  fields: readonly FieldSpec[],
  version: number,
  random: RandomSource,
): Record<string, unknown> {
  const value: Record<string, unknown> = {};
  for (const field of fields) {
    if (!inVersions(field.versions, version)) {
      value[field.name] = defaultValue(field);
      continue;
    }
    const nullable = inVersions(field.nullableVersions, version);
    // Tagged fields are left at their default half the time, the common case on the wire.
    if (field.tag !== null && below(random, 2) === 0) value[field.name] = defaultValue(field);
    else if (nullable && below(random, 4) === 0) value[field.name] = null;
    else value[field.name] = randomTyped(field.type, version, random);
  }
  return value;
}

function randomTyped(type: TypeSpec, version: number, random: RandomSource): unknown {
  switch (type.kind) {
    case 'int8':
      return signedInt(random, 8);
    case 'int16':
      return signedInt(random, 16);
    case 'int32':
      return signedInt(random, 32);
    case 'uint16':
      return below(random, 0x10000);
    case 'int64':
      return BigInt.asIntN(64, (BigInt(random.nextUint32()) << 32n) | BigInt(random.nextUint32()));
    case 'float64':
      return signedInt(random, 32) / 1024;
    case 'bool':
      return below(random, 2) === 1;
    case 'string': {
      let text = '';
      const length = below(random, stringLengthMax + 1);
      for (let i = 0; i < length; i++) text += alphabet[below(random, alphabet.length)];
      return text;
    }
    case 'bytes':
    case 'records': {
      const bytes = Buffer.alloc(below(random, 24));
      for (let i = 0; i < bytes.length; i++) bytes[i] = below(random, 256);
      return bytes;
    }
    case 'uuid': {
      let hex = '';
      for (let i = 0; i < 4; i++) hex += random.nextUint32().toString(16).padStart(8, '0');
      return hex;
    }
    case 'array': {
      const length = below(random, arrayLengthMax + 1);
      return Array.from({ length }, () => randomTyped(type.items, version, random));
    }
    case 'struct':
      return randomStruct(type.fields, version, random);
  }
}

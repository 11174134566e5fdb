// The value side of the log config tables (Kafka's ConfigDef): the value types, the validators
// (Kafka's Range.atLeast, Range.between and ValidString.in) and the parsing of a raw value
// (properties text, or a number or list from the cluster metadata) into a checked one. The tables
// themselves, topic and broker keys with their defaults, are in log-config.ts.

import { LogConfigError } from './errors.js';

/** Kafka's Long.MAX_VALUE means "never"; Gregor carries offsets and times as numbers and clamps. */
export const neverLong = Number.MAX_SAFE_INTEGER;

export type Value = number | string | readonly string[];
export type ValueType = 'int' | 'long' | 'double' | 'enum' | 'list' | 'boolean';

/** How a raw value is parsed and checked; `topicKey` names the key for its special spellings. */
export interface ValueDefinition {
  readonly type: ValueType;
  /** Returns why the value is bad, or undefined when it is fine. */
  readonly validate: (value: Value) => string | undefined;
  readonly topicKey?: string;
}

export function atLeast(min: number, max = neverLong): (value: Value) => string | undefined {
  return (value) =>
    typeof value === 'number' && value >= min && value <= max
      ? undefined
      : `must be an integer in [${min}, ${max}]`;
}

export function between(min: number, max: number): (value: Value) => string | undefined {
  return (value) =>
    typeof value === 'number' && value >= min && value <= max
      ? undefined
      : `must be a number in [${min}, ${max}]`;
}

export function oneOf(allowed: readonly string[]): (value: Value) => string | undefined {
  return (value) => {
    const values = typeof value === 'string' ? [value] : Array.isArray(value) ? value : [];
    if (values.length === 0) return `must be one of ${allowed.join(', ')}`;
    const bad = values.find((v) => !allowed.includes(v));
    return bad === undefined ? undefined : `'${bad}' is not one of ${allowed.join(', ')}`;
  };
}

/** Parses and checks `raw` for `key`; a bad value throws LogConfigError naming the key. */
export function parseValue(
  key: string,
  definition: ValueDefinition,
  raw: string | number | readonly string[],
): Value {
  let value: Value;
  switch (definition.type) {
    case 'boolean': {
      const text = String(raw).trim().toLowerCase();
      if (text !== 'true' && text !== 'false')
        throw new LogConfigError(key, `'${String(raw)}' is not a boolean`);
      value = text === 'true' ? 1 : 0;
      break;
    }
    case 'double': {
      const text = typeof raw === 'number' ? String(raw) : typeof raw === 'string' ? raw.trim() : '';
      if (!/^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) {
        throw new LogConfigError(key, `'${String(raw)}' is not a number`);
      }
      value = Number(text);
      break;
    }
    case 'int':
    case 'long': {
      if (definition.topicKey === 'flush.messages' && raw === 'always') {
        value = 1;
        break;
      }
      const text = typeof raw === 'number' ? String(raw) : typeof raw === 'string' ? raw.trim() : '';
      if (!/^-?\d+$/.test(text)) throw new LogConfigError(key, `'${String(raw)}' is not an integer`);
      const parsed = Number(text);
      // Long.MAX_VALUE (and anything beyond 2^53) means "never" in Kafka; clamp instead of rounding.
      value = definition.type === 'long' && parsed > neverLong ? neverLong : parsed;
      if (!Number.isSafeInteger(value)) throw new LogConfigError(key, `'${text}' is out of range`);
      break;
    }
    case 'enum':
      if (typeof raw !== 'string') throw new LogConfigError(key, 'must be a string');
      value = raw.trim();
      break;
    case 'list': {
      const items = typeof raw === 'string' ? raw.split(',') : Array.isArray(raw) ? raw : [];
      value = items.map((s) => String(s).trim()).filter((s) => s.length > 0);
      break;
    }
  }
  const problem = definition.validate(value);
  if (problem !== undefined) throw new LogConfigError(key, problem);
  return value;
}

// A typed configuration table in Kafka's style: every key has a type, a default (or is required),
// a validator and a line of documentation. Unknown keys and bad values are refused with an error
// that names the key, so a typo in server.properties stops start-up instead of being ignored; every
// bad key of a file is reported in the same error, not only the first.

export interface ConfigProblem {
  readonly key: string;
  /** `key: what is wrong`. */
  readonly message: string;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  /** Every problem found, in the order found. */
  readonly problems: readonly ConfigProblem[];
  /** The first problem's key. */
  readonly key: string;

  constructor(key: string, message: string);
  constructor(problems: readonly ConfigProblem[]);
  constructor(keyOrProblems: string | readonly ConfigProblem[], message = '') {
    const problems =
      typeof keyOrProblems === 'string'
        ? [{ key: keyOrProblems, message: `${keyOrProblems}: ${message}` }]
        : keyOrProblems;
    super(problems.map((problem) => problem.message).join('\n'));
    if (problems.length === 0) throw new Error('a ConfigError needs at least one problem');
    this.problems = problems;
    this.key = problems[0]!.key;
  }

  /** One error carrying every problem of `errors`. */
  static combine(errors: readonly ConfigError[]): ConfigError {
    return new ConfigError(errors.flatMap((error) => error.problems));
  }
}

/** Runs each check, collecting ConfigErrors instead of stopping at the first. */
export class ConfigProblems {
  private readonly errors: ConfigError[] = [];

  /** The check's result, or undefined if it threw a ConfigError (which is kept). */
  check<T>(run: () => T): T | undefined {
    try {
      return run();
    } catch (error) {
      if (error instanceof ConfigError) {
        this.errors.push(error);
        return undefined;
      }
      throw error;
    }
  }

  add(error: ConfigError): void {
    this.errors.push(error);
  }

  get count(): number {
    return this.errors.length;
  }

  /** Throws one ConfigError with every problem collected so far, if any. */
  throwIfAny(): void {
    if (this.errors.length > 0) throw ConfigError.combine(this.errors);
  }
}

export type ConfigType = 'int' | 'long' | 'boolean' | 'string' | 'list' | 'double';

export interface ConfigKeyDef<T> {
  readonly name: string;
  readonly type: ConfigType;
  /** undefined: required. */
  readonly defaultValue: T | undefined;
  readonly doc: string;
  /**
   * Set for a Kafka key that Gregor parses and checks but that changes nothing here (yet); the text
   * says why. Such a key is logged once at start-up when set, and DescribeConfigs leaves it out.
   */
  readonly withoutEffect?: string;
  // Method syntax on purpose: bivariant, so a table of differently typed keys fits one Record type.
  validate?(value: T): string | undefined;
}

type ValueOf<D> = D extends ConfigKeyDef<infer T> ? T : never;

export function parseConfigValue(def: ConfigKeyDef<unknown>, raw: string): unknown {
  const text = raw.trim();
  switch (def.type) {
    case 'int':
    case 'long': {
      if (!/^-?\d+$/.test(text)) throw new ConfigError(def.name, `expected an integer, got '${raw}'`);
      const value = Number(text);
      if (!Number.isSafeInteger(value)) throw new ConfigError(def.name, `integer '${raw}' is out of range`);
      if (def.type === 'int' && (value > 2 ** 31 - 1 || value < -(2 ** 31))) {
        throw new ConfigError(def.name, `'${raw}' does not fit a 32-bit int`);
      }
      return value;
    }
    case 'double': {
      const value = Number(text);
      if (text === '' || !Number.isFinite(value))
        throw new ConfigError(def.name, `expected a number, got '${raw}'`);
      return value;
    }
    case 'boolean':
      if (text === 'true') return true;
      if (text === 'false') return false;
      throw new ConfigError(def.name, `expected true or false, got '${raw}'`);
    case 'string':
      return text;
    case 'list':
      return text === ''
        ? []
        : text
            .split(',')
            .map((item) => item.trim())
            .filter((item) => item !== '');
  }
}

export function int(
  name: string,
  defaultValue: number | undefined,
  doc: string,
  range: { min?: number; max?: number } = {},
): ConfigKeyDef<number> {
  return {
    name,
    type: 'int',
    defaultValue,
    doc,
    validate: (value) => checkRange(value, range),
  };
}

export function long(
  name: string,
  defaultValue: number | undefined,
  doc: string,
  range: { min?: number; max?: number } = {},
): ConfigKeyDef<number> {
  return {
    name,
    type: 'long',
    defaultValue,
    doc,
    validate: (value) => checkRange(value, range),
  };
}

function checkRange(value: number, range: { min?: number; max?: number }): string | undefined {
  if (range.min !== undefined && value < range.min) return `must be at least ${range.min}, got ${value}`;
  if (range.max !== undefined && value > range.max) return `must be at most ${range.max}, got ${value}`;
  return undefined;
}

export function bool(name: string, defaultValue: boolean, doc: string): ConfigKeyDef<boolean> {
  return { name, type: 'boolean', defaultValue, doc };
}

export function str(
  name: string,
  defaultValue: string | undefined,
  doc: string,
  validate?: (value: string) => string | undefined,
): ConfigKeyDef<string> {
  return validate === undefined
    ? { name, type: 'string', defaultValue, doc }
    : { name, type: 'string', defaultValue, doc, validate };
}

export function oneOf(
  name: string,
  defaultValue: string,
  choices: readonly string[],
  doc: string,
): ConfigKeyDef<string> {
  return str(name, defaultValue, doc, (value) =>
    choices.includes(value) ? undefined : `must be one of ${choices.join(', ')}, got '${value}'`,
  );
}

export function list(
  name: string,
  defaultValue: string[] | undefined,
  doc: string,
  validate?: (value: string[]) => string | undefined,
): ConfigKeyDef<string[]> {
  return validate === undefined
    ? { name, type: 'list', defaultValue, doc }
    : { name, type: 'list', defaultValue, doc, validate };
}

/** Where a value came from, as DescribeConfigs reports it. */
export type ConfigSource = 'default' | 'static-broker-config' | 'dynamic-topic-config';

export interface ResolvedConfig<Defs extends Record<string, ConfigKeyDef<unknown>>> {
  readonly values: { readonly [K in keyof Defs]: ValueOf<Defs[K]> };
  readonly sources: ReadonlyMap<string, ConfigSource>;
}

/**
 * Resolves raw key=value pairs against a table. `defs` is keyed by a property name used in code;
 * each def carries Kafka's key. Returns typed values; throws one ConfigError naming every bad key.
 */
export function resolveConfig<Defs extends Record<string, ConfigKeyDef<unknown>>>(
  defs: Defs,
  raw: ReadonlyMap<string, string>,
  options: {
    readonly isKnownElsewhere?: (key: string) => boolean;
    readonly explicitSource?: ConfigSource;
  } = {},
): ResolvedConfig<Defs> {
  const problems = new ConfigProblems();
  const byKafkaName = new Map<string, [string, ConfigKeyDef<unknown>]>();
  for (const [property, def] of Object.entries(defs)) byKafkaName.set(def.name, [property, def]);
  for (const key of raw.keys()) {
    if (!byKafkaName.has(key) && !(options.isKnownElsewhere?.(key) ?? false)) {
      problems.add(new ConfigError(key, 'unknown configuration key'));
    }
  }
  const values: Record<string, unknown> = {};
  const sources = new Map<string, ConfigSource>();
  for (const [property, def] of Object.entries(defs)) {
    problems.check(() => {
      const text = raw.get(def.name);
      let value: unknown;
      if (text !== undefined) {
        value = parseConfigValue(def, text);
        sources.set(def.name, options.explicitSource ?? 'static-broker-config');
      } else if (def.defaultValue !== undefined) {
        value = def.defaultValue;
        sources.set(def.name, 'default');
      } else {
        throw new ConfigError(def.name, 'is required but not set');
      }
      const problem = def.validate?.(value);
      if (problem !== undefined) throw new ConfigError(def.name, problem);
      values[property] = value;
    });
  }
  problems.throwIfAny();
  return { values: values as ResolvedConfig<Defs>['values'], sources };
}

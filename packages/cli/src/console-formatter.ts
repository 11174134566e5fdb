// How `gregor consume` prints a record: Kafka's DefaultMessageFormatter, property for property
// (print.timestamp, print.partition, print.offset, print.headers, print.key, print.value, in that
// order, joined by key.separator and ended by line.separator), or with --json one JSON object per line.

export interface ConsoleRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly timestamp: string;
  readonly timestampType: 'CreateTime' | 'LogAppendTime';
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: Readonly<Record<string, Buffer | Buffer[]>>;
}

export interface FormatterSettings {
  readonly printTimestamp: boolean;
  readonly printPartition: boolean;
  readonly printOffset: boolean;
  readonly printHeaders: boolean;
  readonly printKey: boolean;
  readonly printValue: boolean;
  readonly keySeparator: string;
  readonly lineSeparator: string;
  readonly headersSeparator: string;
  readonly nullLiteral: string;
}

const switches = [
  'print.timestamp',
  'print.partition',
  'print.offset',
  'print.headers',
  'print.key',
  'print.value',
];
const formatterPropertyNames = [
  ...switches,
  'key.separator',
  'line.separator',
  'headers.separator',
  'null.literal',
];

/** The settings from `--property k=v` pairs, or the message of a usage error. */
export function parseFormatterProperties(
  properties: ReadonlyMap<string, string>,
): FormatterSettings | string {
  for (const [name, value] of properties) {
    if (!formatterPropertyNames.includes(name)) {
      return `--property: unknown property '${name}' (supported: ${formatterPropertyNames.join(', ')})`;
    }
    if (switches.includes(name) && value !== 'true' && value !== 'false') {
      return `--property: ${name} must be true or false, got '${value}'`;
    }
  }
  const on = (name: string, byDefault = false) => (properties.get(name) ?? String(byDefault)) === 'true';
  return {
    printTimestamp: on('print.timestamp'),
    printPartition: on('print.partition'),
    printOffset: on('print.offset'),
    printHeaders: on('print.headers'),
    printKey: on('print.key'),
    printValue: on('print.value', true),
    keySeparator: properties.get('key.separator') ?? '\t',
    lineSeparator: properties.get('line.separator') ?? '\n',
    headersSeparator: properties.get('headers.separator') ?? ',',
    nullLiteral: properties.get('null.literal') ?? 'null',
  };
}

/** One record as DefaultMessageFormatter writes it, line separator included. */
export function formatRecord(record: ConsoleRecord, settings: FormatterSettings): string {
  const text = (bytes: Buffer | null) => (bytes === null ? settings.nullLiteral : bytes.toString('utf8'));
  const columns: string[] = [];
  if (settings.printTimestamp) columns.push(`${record.timestampType}:${record.timestamp}`);
  if (settings.printPartition) columns.push(`Partition:${record.partition}`);
  if (settings.printOffset) columns.push(`Offset:${record.offset}`);
  if (settings.printHeaders) {
    const headers = headerList(record.headers);
    columns.push(
      headers.length === 0
        ? 'NO_HEADERS'
        : headers.map(({ key, value }) => `${key}:${text(value)}`).join(settings.headersSeparator),
    );
  }
  if (settings.printKey) columns.push(text(record.key));
  if (settings.printValue) columns.push(text(record.value));
  // Kafka ends the line after the last column printed, whichever it is (even with no value).
  return columns.length === 0 ? '' : `${columns.join(settings.keySeparator)}${settings.lineSeparator}`;
}

function headerList(
  headers: Readonly<Record<string, Buffer | Buffer[]>>,
): { key: string; value: Buffer | null }[] {
  return Object.entries(headers).flatMap(([key, value]) =>
    (Array.isArray(value) ? value : [value]).map((item) => ({ key, value: item as Buffer | null })),
  );
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Bytes as JSON: the text when they are valid UTF-8, else `{"base64": "..."}`; null stays null. */
function jsonBytes(bytes: Buffer | null): string | { base64: string } | null {
  if (bytes === null) return null;
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return { base64: bytes.toString('base64') };
  }
}

/** --json: the record as one line of JSON (Gregor's; Kafka's tool has no such formatter). */
export function jsonRecord(record: ConsoleRecord): string {
  return `${JSON.stringify({
    topic: record.topic,
    partition: record.partition,
    offset: Number(record.offset),
    timestamp: Number(record.timestamp),
    timestampType: record.timestampType,
    key: jsonBytes(record.key),
    value: jsonBytes(record.value),
    headers: headerList(record.headers).map(({ key, value }) => ({ key, value: jsonBytes(value) })),
  })}\n`;
}

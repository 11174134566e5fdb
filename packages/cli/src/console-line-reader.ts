// How `gregor produce` turns input lines into records: Kafka's LineMessageReader, property for
// property. With parse.headers=true a line starts with `k1:v1,k2:v2` up to headers.delimiter; with
// parse.key=true the key runs up to key.separator; the rest is the value. A part equal to null.marker
// is null. A line without the expected delimiter is an error naming the line, or with
// ignore.error=true the part is left out (no key, no headers).

export interface LineReaderSettings {
  readonly parseKey: boolean;
  readonly keySeparator: string;
  readonly parseHeaders: boolean;
  readonly headersDelimiter: string;
  readonly headersSeparator: string;
  readonly headersKeySeparator: string;
  readonly ignoreError: boolean;
  readonly nullMarker: string | undefined;
}

export interface LineRecord {
  readonly key: string | null;
  readonly value: string | null;
  readonly headers: readonly { readonly key: string; readonly value: string | null }[];
}

const booleanProperties = ['parse.key', 'parse.headers', 'ignore.error'];
const lineReaderPropertyNames = [
  ...booleanProperties,
  'key.separator',
  'headers.delimiter',
  'headers.separator',
  'headers.key.separator',
  'null.marker',
];

/** The settings from `--property k=v` pairs, or the message of a usage error. */
export function parseLineReaderProperties(
  properties: ReadonlyMap<string, string>,
): LineReaderSettings | string {
  for (const [name, value] of properties) {
    if (!lineReaderPropertyNames.includes(name)) {
      return `--property: unknown property '${name}' (supported: ${lineReaderPropertyNames.join(', ')})`;
    }
    if (booleanProperties.includes(name) && value !== 'true' && value !== 'false') {
      return `--property: ${name} must be true or false, got '${value}'`;
    }
  }
  const settings: LineReaderSettings = {
    parseKey: properties.get('parse.key') === 'true',
    keySeparator: properties.get('key.separator') ?? '\t',
    parseHeaders: properties.get('parse.headers') === 'true',
    headersDelimiter: properties.get('headers.delimiter') ?? '\t',
    headersSeparator: properties.get('headers.separator') ?? ',',
    headersKeySeparator: properties.get('headers.key.separator') ?? ':',
    ignoreError: properties.get('ignore.error') === 'true',
    nullMarker: properties.get('null.marker'),
  };
  // Kafka's checks: ambiguous separators would make lines mean two things.
  if (settings.headersSeparator === settings.headersKeySeparator) {
    return '--property: headers.separator and headers.key.separator must differ';
  }
  const { nullMarker } = settings;
  if (
    nullMarker !== undefined &&
    [settings.keySeparator, settings.headersSeparator, settings.headersKeySeparator].includes(nullMarker)
  ) {
    return '--property: null.marker must differ from key.separator, headers.separator and headers.key.separator';
  }
  return settings;
}

export class LineParseError extends Error {
  override name = 'LineParseError';
}

/** Splits one line into a record, as Kafka's LineMessageReader does; `lineNumber` counts from 1. */
export function parseLine(line: string, lineNumber: number, settings: LineReaderSettings): LineRecord {
  const part = (enabled: boolean, start: number, demarcation: string, name: string): string | null => {
    if (!enabled) return null;
    const index = line.indexOf(demarcation, start);
    if (index < 0) {
      if (settings.ignoreError) return null;
      throw new LineParseError(`No ${name} found on line number ${lineNumber}: '${line}'`);
    }
    return line.slice(start, index);
  };
  const headersText = part(settings.parseHeaders, 0, settings.headersDelimiter, 'headers delimiter');
  const headerEnd = headersText === null ? 0 : headersText.length + settings.headersDelimiter.length;
  const key = part(settings.parseKey, headerEnd, settings.keySeparator, 'key separator');
  const keyEnd = key === null ? 0 : key.length + settings.keySeparator.length;
  const value = line.slice(headerEnd + keyEnd);
  const isNull = (text: string | null) => text === null || text === settings.nullMarker;
  return {
    key: isNull(key) ? null : key,
    value: isNull(value) ? null : value,
    headers:
      headersText === null || isNull(headersText) ? [] : splitHeaders(headersText, lineNumber, settings),
  };
}

function splitHeaders(
  text: string,
  lineNumber: number,
  settings: LineReaderSettings,
): { key: string; value: string | null }[] {
  return text.split(settings.headersSeparator).map((pair) => {
    const index = pair.indexOf(settings.headersKeySeparator);
    if (index < 0) {
      if (settings.ignoreError) return { key: pair, value: null };
      throw new LineParseError(
        `No header key separator found in pair '${pair}' on line number ${lineNumber}`,
      );
    }
    const key = pair.slice(0, index);
    if (key === settings.nullMarker) {
      throw new LineParseError(
        `Header keys should not be equal to the null marker '${settings.nullMarker}' as they can't be null`,
      );
    }
    const value = pair.slice(index + settings.headersKeySeparator.length);
    return { key, value: value === settings.nullMarker ? null : value };
  });
}

export class LineTooLongError extends Error {
  override name = 'LineTooLongError';
}

/**
 * The lines of a byte stream (without `\n` or `\r\n`; a last line without a newline counts), each
 * at most `lineBytesMax` bytes: a longer one throws LineTooLongError instead of being buffered.
 * Stops early, after the line in hand, once `stopped` resolves.
 */
export async function* readLines(
  input: AsyncIterable<Buffer | string>,
  lineBytesMax: number,
  stopped: Promise<void> = new Promise(() => undefined),
): AsyncGenerator<string> {
  const iterator = input[Symbol.asyncIterator]();
  const stop = stopped.then(() => ({ done: true as const, value: undefined }));
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let lineNumber = 0;
  const tooLong = () => new LineTooLongError(`line ${lineNumber + 1} is longer than ${lineBytesMax} bytes`);
  const take = (tail: Buffer): string => {
    let line = Buffer.concat([...pending, tail]);
    pending = [];
    pendingBytes = 0;
    lineNumber++;
    if (line.length > 0 && line[line.length - 1] === 0x0d) line = line.subarray(0, line.length - 1);
    if (line.length > lineBytesMax) {
      lineNumber--;
      throw tooLong();
    }
    return line.toString('utf8');
  };
  try {
    for (;;) {
      const next = await Promise.race([iterator.next(), stop]);
      if (next.done) break;
      let chunk = typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
      for (let newline = chunk.indexOf(0x0a); newline >= 0; newline = chunk.indexOf(0x0a)) {
        yield take(chunk.subarray(0, newline));
        chunk = chunk.subarray(newline + 1);
      }
      // A `\r` may still come before the newline: one byte over the limit is not yet too long.
      if (pendingBytes + chunk.length > lineBytesMax + 1) throw tooLong();
      if (chunk.length > 0) {
        pending.push(chunk);
        pendingBytes += chunk.length;
      }
    }
    if (pendingBytes > 0) {
      yield take(Buffer.alloc(0));
    }
  } finally {
    // Not awaited: a stream's iterator ends only after the read in flight, which a silent stdin
    // never completes; destroying the stream (below) is what releases it.
    iterator.return?.().catch(() => undefined);
    (input as { destroy?: () => void }).destroy?.();
  }
}

import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  type LineReaderSettings,
  LineTooLongError,
  parseLine,
  parseLineReaderProperties,
  readLines,
} from './console-line-reader.js';
import { parseProduceArgs, sendErrorLine } from './console-producer.js';
import { parseProducerProperties } from './producer-properties.js';

function settings(properties: Record<string, string>): LineReaderSettings {
  const parsed = parseLineReaderProperties(new Map(Object.entries(properties)));
  if (typeof parsed === 'string') throw new Error(parsed);
  return parsed;
}

async function lines(chunks: readonly string[], lineBytesMax = 100): Promise<string[]> {
  const out: string[] = [];
  for await (const line of readLines(
    Readable.from(chunks.map((chunk) => Buffer.from(chunk))),
    lineBytesMax,
  )) {
    out.push(line);
  }
  return out;
}

describe("parseLine (Kafka's LineMessageReader)", () => {
  it('takes the whole line as the value by default', () => {
    expect(parseLine('a\tb', 1, settings({}))).toEqual({ key: null, value: 'a\tb', headers: [] });
  });

  it('splits the key at the first key.separator', () => {
    expect(parseLine('k::v::w', 1, settings({ 'parse.key': 'true', 'key.separator': '::' }))).toEqual({
      key: 'k',
      value: 'v::w',
      headers: [],
    });
  });

  it('reads headers, then key, then value; null.marker makes parts null', () => {
    const reader = settings({ 'parse.key': 'true', 'parse.headers': 'true', 'null.marker': 'NULL' });
    expect(parseLine('a:1,b:NULL,a:2\tNULL\tv', 1, reader)).toEqual({
      key: null,
      value: 'v',
      headers: [
        { key: 'a', value: '1' },
        { key: 'b', value: null },
        { key: 'a', value: '2' },
      ],
    });
    expect(parseLine('x:y\tk\tNULL', 1, reader).value).toBeNull();
  });

  it('names the line when a separator is missing, unless ignore.error', () => {
    expect(() => parseLine('novalue', 3, settings({ 'parse.key': 'true' }))).toThrow(
      "No key separator found on line number 3: 'novalue'",
    );
    expect(() => parseLine('h\tv', 2, settings({ 'parse.headers': 'true' }))).toThrow(
      "No header key separator found in pair 'h' on line number 2",
    );
    expect(parseLine('novalue', 3, settings({ 'parse.key': 'true', 'ignore.error': 'true' }))).toEqual({
      key: null,
      value: 'novalue',
      headers: [],
    });
  });

  it('refuses unknown properties, non-boolean switches and ambiguous separators', () => {
    const parse = (properties: Record<string, string>) =>
      parseLineReaderProperties(new Map(Object.entries(properties)));
    expect(parse({ 'parse.keys': 'true' })).toMatch(/unknown property 'parse.keys'/);
    expect(parse({ 'parse.key': 'yes' })).toBe("--property: parse.key must be true or false, got 'yes'");
    expect(parse({ 'headers.separator': ':' })).toMatch(/must differ/);
    expect(parse({ 'null.marker': '\t' })).toMatch(/null.marker must differ/);
  });
});

describe('readLines', () => {
  it('splits chunks at newlines, drops \\r before them and keeps a last line without one', async () => {
    expect(await lines(['ab', 'c\r\nde\n\nf', 'g'])).toEqual(['abc', 'de', '', 'fg']);
    expect(await lines(['é', '\n'])).toEqual(['é']);
  });

  it('refuses a line longer than the limit without buffering it', async () => {
    expect(await lines(['12345\n'], 5)).toEqual(['12345']);
    expect(await lines(['12345\r\n'], 5)).toEqual(['12345']);
    await expect(lines(['123', '456\n'], 5)).rejects.toThrow(LineTooLongError);
    await expect(lines(['1234567890'], 5)).rejects.toThrow('line 1 is longer than 5 bytes');
    await expect(lines(['ok\n', '123456\n'], 5)).rejects.toThrow('line 2 is longer than 5 bytes');
  });

  it('stops reading once interrupted, even while the input is silent', async () => {
    let interrupt: () => void = () => undefined;
    const interrupted = new Promise<void>((resolve) => {
      interrupt = resolve;
    });
    const input = new Readable({ read() {} });
    input.push('one\n');
    const read: string[] = [];
    const done = (async () => {
      for await (const line of readLines(input, 100, interrupted)) {
        read.push(line);
        interrupt();
      }
    })();
    await done;
    expect(read).toEqual(['one']);
  });
});

describe('parseProduceArgs', () => {
  const base = ['--bootstrap-server', '127.0.0.1:9092', '--topic', 't'];

  it('reads the flags, with the console producer defaults (acks=all, linger.ms=1000)', () => {
    const parsed = parseProduceArgs([...base, '--partition', '2', '--sync', '--property', 'parse.key=true']);
    expect(parsed.kind).toBe('options');
    if (parsed.kind !== 'options') return;
    expect(parsed.options).toMatchObject({
      bootstrap: ['127.0.0.1:9092'],
      topic: 't',
      partition: 2,
      sync: true,
    });
    expect(parsed.options.lineReader.parseKey).toBe(true);
    expect(parsed.options.producer.acks).toBe(-1);
    expect(parsed.options.producer.producer).toMatchObject({ lingerMs: 1000, idempotent: true });
  });

  it('names what is wrong', () => {
    const message = (args: string[]) => {
      const parsed = parseProduceArgs(args);
      return parsed.kind === 'usage-error' ? parsed.message : parsed.kind;
    };
    expect(message(['--topic', 't'])).toBe('--bootstrap-server is required');
    expect(message(['--bootstrap-server', '127.0.0.1:9092'])).toBe('--topic is required');
    expect(message([...base, '--partition', '-1'])).toBe("--partition must be a partition number, got '-1'");
    expect(message([...base, '--property', 'parse.key'])).toBe(
      "--property: expected key=value, got 'parse.key'",
    );
    expect(message([...base, '--producer-property', 'acks=2'])).toBe(
      "--producer-property: acks must be all, -1, 0 or 1, got '2'",
    );
    expect(message([...base, '--producer-property', 'foo=1'])).toMatch(/unsupported producer property 'foo'/);
    expect(message([...base, '--sync=yes'])).toBe('--sync takes no value');
    expect(message([...base, '--bogus'])).toBe("unknown argument '--bogus'");
    expect(message(['--bootstrap-server', 'nohost', '--topic', 't'])).toMatch(/expected host:port/);
    expect(message([...base, '--help'])).toBe('help');
  });
});

describe('parseProducerProperties', () => {
  it('maps the Java names onto the client and turns idempotence off when acks is not all', () => {
    const parsed = parseProducerProperties(
      'p',
      new Map([
        ['acks', '1'],
        ['compression.type', 'gzip'],
        ['linger.ms', '0'],
        ['batch.size', '1024'],
      ]),
    );
    expect(parsed).toMatchObject({
      acks: 1,
      producer: { compression: 1, lingerMs: 0, batchSize: 1024, idempotent: false },
    });
    expect(parseProducerProperties('p', new Map([['linger.ms', 'x']]))).toBe(
      "p: linger.ms must be an integer in [0, 2147483647], got 'x'",
    );
    expect(
      parseProducerProperties(
        'p',
        new Map([
          ['acks', '0'],
          ['enable.idempotence', 'true'],
        ]),
      ),
    ).toBe('p: enable.idempotence=true needs acks=all (got acks=0)');
  });
});

describe('sendErrorLine', () => {
  it("is Kafka's ErrorLoggingCallback line", () => {
    expect(sendErrorLine('t', { key: 'ab', value: 'xyz' }, new Error('boom'))).toBe(
      'Error when sending message to topic t with key: 2 bytes, value: 3 bytes with error: boom',
    );
  });
});

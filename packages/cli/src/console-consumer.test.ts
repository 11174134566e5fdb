import { describe, expect, it } from 'vitest';
import { parseConsumeArgs } from './console-consumer.js';
import {
  type ConsoleRecord,
  formatRecord,
  jsonRecord,
  parseFormatterProperties,
} from './console-formatter.js';

const record: ConsoleRecord = {
  topic: 't',
  partition: 2,
  offset: '41',
  timestamp: '1700000000000',
  timestampType: 'CreateTime',
  key: Buffer.from('k'),
  value: Buffer.from('v'),
  headers: { a: Buffer.from('1'), b: [Buffer.from('2'), Buffer.from('3')] },
};

function format(properties: Record<string, string>, which = record): string {
  const settings = parseFormatterProperties(new Map(Object.entries(properties)));
  if (typeof settings === 'string') throw new Error(settings);
  return formatRecord(which, settings);
}

describe("formatRecord (Kafka's DefaultMessageFormatter)", () => {
  it('prints the value alone by default', () => {
    expect(format({})).toBe('v\n');
  });

  it('prints timestamp, partition, offset, headers, key, value in that order, joined by key.separator', () => {
    expect(
      format({
        'print.timestamp': 'true',
        'print.partition': 'true',
        'print.offset': 'true',
        'print.headers': 'true',
        'print.key': 'true',
        'key.separator': ' | ',
      }),
    ).toBe('CreateTime:1700000000000 | Partition:2 | Offset:41 | a:1,b:2,b:3 | k | v\n');
  });

  it('prints NO_HEADERS, null.literal for null keys and values, and ends the last column it prints', () => {
    const bare = { ...record, key: null, value: null, headers: {} };
    expect(format({ 'print.headers': 'true', 'print.key': 'true' }, bare)).toBe('NO_HEADERS\tnull\tnull\n');
    expect(format({ 'print.key': 'true', 'print.value': 'false', 'null.literal': '-' }, bare)).toBe('-\n');
    expect(format({ 'print.value': 'false' })).toBe('');
    expect(format({ 'line.separator': '|' })).toBe('v|');
  });

  it('refuses properties it does not know or switches that are not true/false', () => {
    expect(parseFormatterProperties(new Map([['print.keys', 'true']]))).toMatch(
      /unknown property 'print.keys'/,
    );
    expect(parseFormatterProperties(new Map([['print.key', '1']]))).toBe(
      "--property: print.key must be true or false, got '1'",
    );
  });
});

describe('jsonRecord', () => {
  it('is one JSON line; bytes that are not UTF-8 are base64', () => {
    const binary = { ...record, key: Buffer.from([0xff, 0xfe]), headers: {} };
    expect(JSON.parse(jsonRecord(binary))).toEqual({
      topic: 't',
      partition: 2,
      offset: 41,
      timestamp: 1700000000000,
      timestampType: 'CreateTime',
      key: { base64: '//4=' },
      value: 'v',
      headers: [],
    });
    expect(jsonRecord(record).endsWith('}\n')).toBe(true);
    expect(jsonRecord(record).split('\n')).toHaveLength(2);
  });
});

describe('parseConsumeArgs', () => {
  const base = ['--bootstrap-server', '127.0.0.1:9092', '--topic', 't'];
  const message = (args: string[]) => {
    const parsed = parseConsumeArgs(args);
    return parsed.kind === 'usage-error' ? parsed.message : parsed.kind;
  };

  it("reads Kafka's flags; read_uncommitted by default, as Kafka's tool", () => {
    const parsed = parseConsumeArgs([
      ...base,
      '--partition',
      '1',
      '--offset',
      'earliest',
      '--max-messages',
      '10',
      '--timeout-ms',
      '100',
    ]);
    expect(parsed).toMatchObject({
      kind: 'options',
      options: { partition: 1, offset: 'earliest', maxMessages: 10, timeoutMs: 100, readUncommitted: true },
    });
    expect(parseConsumeArgs([...base, '--offset=7', '--partition=0'])).toMatchObject({
      options: { offset: 7n },
    });
    expect(parseConsumeArgs([...base, '--formatter', 'json'])).toMatchObject({
      options: { formatter: null },
    });
    expect(parseConsumeArgs([...base, '--isolation-level', 'read_committed'])).toMatchObject({
      options: { readUncommitted: false },
    });
  });

  it('names what is wrong, with Kafka messages where Kafka has them', () => {
    expect(message([...base, '--offset', '3'])).toBe('The partition is required when offset is specified.');
    expect(message([...base, '--partition', '0', '--offset', '3', '--from-beginning'])).toBe(
      'Options from-beginning and offset cannot be specified together.',
    );
    expect(message([...base, '--partition', '0', '--offset', '-5'])).toMatch(
      /--offset must be a non-negative/,
    );
    expect(message([...base, '--partition', '0', '--group', 'g'])).toMatch(/cannot be used together/);
    expect(message([...base, '--max-messages', '0'])).toMatch(/--max-messages must be an integer in \[1,/);
    expect(message([...base, '--isolation-level', 'committed'])).toMatch(/--isolation-level must be/);
    expect(message([...base, '--formatter', 'my.Formatter'])).toMatch(/--formatter must be json/);
    expect(message([...base, '--json', '--property', 'print.key=true'])).toBe(
      '--property does not apply to --json',
    );
    expect(message(['--topic', 't'])).toBe('--bootstrap-server is required');
    expect(message([...base, '-h'])).toBe('help');
  });
});

import { describe, expect, it } from 'vitest';
import { parseDeleteRecordsArgs, parseOffsetJson } from './delete-records.js';
import { parseGetOffsetsArgs } from './get-offsets.js';
import { parseGroupsArgs } from './groups-args.js';

describe('gregor delete-records arguments and offset file', () => {
  it('takes --bootstrap-server and --offset-json-file, as kafka-delete-records.sh', () => {
    expect(parseDeleteRecordsArgs(['--bootstrap-server', 'h:1', '--offset-json-file', 'f.json'])).toEqual({
      kind: 'options',
      options: {
        bootstrap: [{ host: 'h', port: 1 }],
        timeoutMs: 60_000,
        security: { protocol: 'PLAINTEXT' },
        offsetJsonFile: 'f.json',
      },
    });
    expect(parseDeleteRecordsArgs(['--bootstrap-server', 'h:1'])).toMatchObject({
      kind: 'usage-error',
      message: '--offset-json-file is required',
    });
    expect(parseDeleteRecordsArgs(['--offset-json-file', 'f', '--topic', 't'])).toMatchObject({
      kind: 'usage-error',
    });
  });

  it("reads Kafka's offset JSON and refuses what Kafka's tool refuses", () => {
    const file = JSON.stringify({
      partitions: [
        { topic: 'orders', partition: 0, offset: 6 },
        { topic: 'orders', partition: 1, offset: -1 },
      ],
      version: 1,
    });
    expect(parseOffsetJson(file)).toEqual([
      { topic: 'orders', partition: 0, offset: 6n },
      { topic: 'orders', partition: 1, offset: -1n },
    ]);
    expect(parseOffsetJson('{')).toMatch(/^not JSON/);
    expect(parseOffsetJson('{"partitions": [], "version": 1}')).toBe('no partitions to delete from');
    expect(
      parseOffsetJson('{"partitions": [{"topic": "t", "partition": 0, "offset": 1}], "version": 2}'),
    ).toMatch(/unsupported version 2/);
    expect(parseOffsetJson('{"partitions": [{"topic": "t", "partition": -1, "offset": 1}]}')).toMatch(
      /"partition" must be/,
    );
    expect(parseOffsetJson('{"partitions": [{"topic": "t", "partition": 0, "offset": -2}]}')).toMatch(
      /"offset" must be/,
    );
    expect(
      parseOffsetJson(
        '{"partitions": [{"topic": "t", "partition": 0, "offset": 1}, {"topic": "t", "partition": 0, "offset": 2}]}',
      ),
    ).toBe('partition t-0 is named twice');
  });
});

describe('gregor get-offsets arguments', () => {
  it('defaults to the latest offsets of every partition; --time -2/earliest, a timestamp, --partitions', () => {
    expect(parseGetOffsetsArgs(['--bootstrap-server', 'h:1', '--topic', 't'])).toEqual({
      kind: 'options',
      options: {
        bootstrap: [{ host: 'h', port: 1 }],
        timeoutMs: 10_000,
        security: { protocol: 'PLAINTEXT' },
        topic: 't',
        partitions: undefined,
        timestamp: -1n,
      },
    });
    expect(
      parseGetOffsetsArgs([
        '--bootstrap-server',
        'h:1',
        '--topic',
        't',
        '--time',
        '-2',
        '--partitions',
        '0,2',
      ]),
    ).toMatchObject({ options: { timestamp: -2n, partitions: [0, 2] } });
    expect(
      parseGetOffsetsArgs(['--bootstrap-server', 'h:1', '--topic', 't', '--time', 'earliest']),
    ).toMatchObject({
      options: { timestamp: -2n },
    });
    expect(
      parseGetOffsetsArgs(['--bootstrap-server', 'h:1', '--topic', 't', '--time', '1700000000000']),
    ).toMatchObject({ options: { timestamp: 1_700_000_000_000n } });
    expect(parseGetOffsetsArgs(['--bootstrap-server', 'h:1', '--topic', 't', '--time', '-3'])).toMatchObject({
      kind: 'usage-error',
    });
    expect(
      parseGetOffsetsArgs(['--bootstrap-server', 'h:1', '--topic', 't', '--partitions', 'a']),
    ).toMatchObject({
      kind: 'usage-error',
    });
    expect(parseGetOffsetsArgs(['--bootstrap-server', 'h:1'])).toMatchObject({
      kind: 'usage-error',
      message: '--topic is required',
    });
  });
});

describe('gregor groups --delete-offsets arguments', () => {
  it("takes kafka-consumer-groups.sh's flag form, a whole topic or some of its partitions", () => {
    expect(
      parseGroupsArgs(['--bootstrap-server', 'h:1', '--delete-offsets', '--group', 'g', '--topic', 't']),
    ).toMatchObject({
      options: { command: { kind: 'delete-offsets', groupId: 'g', topic: 't', partitions: undefined } },
    });
    expect(
      parseGroupsArgs(['--bootstrap-server', 'h:1', 'delete-offsets', '--group', 'g', '--topic', 't:0,2']),
    ).toMatchObject({ options: { command: { kind: 'delete-offsets', topic: 't', partitions: [0, 2] } } });
    expect(parseGroupsArgs(['--bootstrap-server', 'h:1', '--delete-offsets', '--group', 'g'])).toMatchObject({
      kind: 'usage-error',
    });
    expect(
      parseGroupsArgs(['--bootstrap-server', 'h:1', '--delete-offsets', '--group', 'g', '--topic', 't:x']),
    ).toMatchObject({ kind: 'usage-error' });
    expect(parseGroupsArgs(['--bootstrap-server', 'h:1', '--list'])).toMatchObject({
      options: { command: { kind: 'list' } },
    });
  });
});

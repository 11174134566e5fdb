import { describe, expect, it } from 'vitest';
import { formatTable, lagRows, resetOffsetFor } from './groups.js';
import { parseGroupsArgs } from './groups-args.js';
import { decodeConsumerAssignment } from './groups-consumer-protocol.js';

/** ConsumerProtocol Assignment v1: version, [topic, [partition]], user_data. */
function assignmentBytes(topics: Record<string, number[]>, userData: Buffer | null = null): Buffer {
  const parts: Buffer[] = [];
  const int16 = (value: number) => {
    const buffer = Buffer.alloc(2);
    buffer.writeInt16BE(value);
    parts.push(buffer);
  };
  const int32 = (value: number) => {
    const buffer = Buffer.alloc(4);
    buffer.writeInt32BE(value);
    parts.push(buffer);
  };
  int16(1);
  int32(Object.keys(topics).length);
  for (const [topic, partitions] of Object.entries(topics)) {
    int16(Buffer.byteLength(topic));
    parts.push(Buffer.from(topic));
    int32(partitions.length);
    for (const partition of partitions) int32(partition);
  }
  int32(userData === null ? -1 : userData.length);
  if (userData !== null) parts.push(userData);
  return Buffer.concat(parts);
}

describe('gregor groups arguments', () => {
  it('parses the three commands', () => {
    expect(parseGroupsArgs(['--bootstrap-server', 'localhost:9092', 'list'])).toMatchObject({
      kind: 'options',
      options: { bootstrap: [{ host: 'localhost', port: 9092 }], command: { kind: 'list' } },
    });
    expect(parseGroupsArgs(['--bootstrap-server=a:1,b:2', 'describe', 'g'])).toMatchObject({
      options: {
        bootstrap: [
          { host: 'a', port: 1 },
          { host: 'b', port: 2 },
        ],
        command: { kind: 'describe', groupId: 'g' },
      },
    });
    expect(
      parseGroupsArgs([
        '--bootstrap-server',
        'a:1',
        'reset-offsets',
        '--group',
        'g',
        '--topic',
        't',
        '--to-offset',
        '5',
        '--execute',
      ]),
    ).toMatchObject({
      options: {
        command: {
          kind: 'reset-offsets',
          groupId: 'g',
          topic: 't',
          target: { kind: 'offset', offset: 5n },
          execute: true,
        },
      },
    });
  });

  it('refuses what it cannot run, naming the problem', () => {
    const message = (args: string[]) => {
      const parsed = parseGroupsArgs(args);
      return parsed.kind === 'usage-error' ? parsed.message : parsed.kind;
    };
    expect(message(['list'])).toBe('--bootstrap-server is required');
    expect(message(['--bootstrap-server', 'nohost', 'list'])).toContain('expected host:port');
    expect(message(['--bootstrap-server', 'a:1', 'reset-offsets', '--group', 'g', '--topic', 't'])).toContain(
      'exactly one of',
    );
    expect(
      message([
        '--bootstrap-server',
        'a:1',
        'reset-offsets',
        '--group',
        'g',
        '--topic',
        't',
        '--to-earliest',
        '--to-latest',
      ]),
    ).toContain('exactly one of');
    expect(message(['--bootstrap-server', 'a:1', 'frobnicate'])).toBe("unknown command 'frobnicate'");
    expect(message(['--bootstrap-server', 'a:1', 'describe'])).toBe('describe needs exactly one group');
  });
});

describe('consumer protocol assignments', () => {
  it('decodes topics and partitions and ignores user data; empty bytes are no assignment', () => {
    expect(
      decodeConsumerAssignment(assignmentBytes({ orders: [0, 3], audit: [1] }, Buffer.from('x'))),
    ).toEqual({
      version: 1,
      partitions: [
        { topic: 'orders', partitions: [0, 3] },
        { topic: 'audit', partitions: [1] },
      ],
    });
    expect(decodeConsumerAssignment(Buffer.alloc(0))).toEqual({ version: 0, partitions: [] });
    expect(() => decodeConsumerAssignment(assignmentBytes({ orders: [0] }).subarray(0, 9))).toThrow(
      'truncated',
    );
  });
});

describe('describe and reset output', () => {
  it('builds the kafka-consumer-groups lag table: held partitions, committed-only partitions, idle members', () => {
    const rows = lagRows(
      {
        groupId: 'g',
        state: 'Stable',
        protocolType: 'consumer',
        protocol: 'range',
        members: [
          {
            memberId: 'm1',
            clientId: 'c1',
            clientHost: '/10.0.0.1',
            assignment: assignmentBytes({ t: [0] }),
          },
          { memberId: 'm2', clientId: 'c2', clientHost: '/10.0.0.2', assignment: Buffer.alloc(0) },
        ],
      },
      [
        { topic: 't', partition: 0, offset: 7n },
        { topic: 't', partition: 1, offset: 4n },
      ],
      [
        { topic: 't', partition: 0, offset: 10n },
        { topic: 't', partition: 1, offset: 4n },
      ],
    );
    expect(
      rows.map((row) => [
        row.topic,
        row.partition,
        row.currentOffset,
        row.logEndOffset,
        row.lag,
        row.consumerId,
      ]),
    ).toEqual([
      ['t', '0', '7', '10', '3', 'm1'],
      ['t', '1', '4', '4', '0', '-'],
      ['-', '-', '-', '-', '-', 'm2'],
    ]);
    expect(formatTable(['A', 'BB'], [['long-value', 'x']])).toBe('A          BB\nlong-value x\n');
  });

  it('clamps a requested offset into the partition range, as Kafka does', () => {
    expect(resetOffsetFor({ kind: 'offset', offset: 100n }, 5n, 50n)).toBe(50n);
    expect(resetOffsetFor({ kind: 'offset', offset: 1n }, 5n, 50n)).toBe(5n);
    expect(resetOffsetFor({ kind: 'offset', offset: 20n }, 5n, 50n)).toBe(20n);
    expect(resetOffsetFor({ kind: 'earliest' }, 5n, 50n)).toBe(5n);
    expect(resetOffsetFor({ kind: 'latest' }, 5n, 50n)).toBe(50n);
  });
});

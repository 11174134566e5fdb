import { describe, expect, it } from 'vitest';
import { parseTopicsArgs } from './topics-args.js';

const bootstrap = ['--bootstrap-server', 'localhost:9092'];

function message(args: string[]): string {
  const parsed = parseTopicsArgs(args);
  return parsed.kind === 'usage-error' ? parsed.message : parsed.kind;
}

describe('gregor topics arguments', () => {
  it('parses create with kafka-topics.sh flags, -1 for the counts left out', () => {
    expect(
      parseTopicsArgs([...bootstrap, 'create', '--topic', 't', '--config', 'a=1', '--config=b=2']),
    ).toMatchObject({
      options: {
        command: {
          kind: 'create',
          topic: 't',
          partitions: -1,
          replicationFactor: -1,
          replicaAssignment: [],
          configs: [
            { name: 'a', value: '1' },
            { name: 'b', value: '2' },
          ],
          ifNotExists: false,
        },
      },
    });
    expect(
      parseTopicsArgs([...bootstrap, 'create', '--topic', 't', '--replica-assignment', '1:2,2:3']),
    ).toMatchObject({
      options: {
        command: {
          replicaAssignment: [
            [1, 2],
            [2, 3],
          ],
        },
      },
    });
  });

  it("parses describe's partition limit per DescribeTopicPartitions response, 2000 by default", () => {
    expect(parseTopicsArgs([...bootstrap, 'describe'])).toMatchObject({
      options: { command: { kind: 'describe', topic: null, partitionSizeLimitPerResponse: 2000 } },
    });
    expect(
      parseTopicsArgs([...bootstrap, 'describe', '--topic', 't', '--partition-size-limit-per-response', '5']),
    ).toMatchObject({
      options: { command: { kind: 'describe', topic: 't', partitionSizeLimitPerResponse: 5 } },
    });
  });

  it('names what is wrong', () => {
    expect(message([...bootstrap, 'create'])).toBe('create needs --topic');
    expect(message([...bootstrap, 'create', '--topic', 't', '--partitions', '0'])).toBe(
      '--partitions must be a positive integer',
    );
    expect(
      message([...bootstrap, 'create', '--topic', 't', '--partitions', '2', '--replica-assignment', '1']),
    ).toBe('--replica-assignment excludes --partitions and --replication-factor');
    expect(message([...bootstrap, 'create', '--topic', 't', '--replica-assignment', '1:x'])).toBe(
      "--replica-assignment: expected broker ids like 1:2,2:3, got '1:x'",
    );
    expect(message([...bootstrap, 'delete'])).toBe('delete needs --topic');
    expect(message([...bootstrap, 'describe', '--partition-size-limit-per-response', '0'])).toBe(
      '--partition-size-limit-per-response must be a positive integer',
    );
    expect(message([...bootstrap, 'list', '--frob'])).toBe("unknown option '--frob'");
    expect(message(['list'])).toBe('--bootstrap-server is required');
  });
});

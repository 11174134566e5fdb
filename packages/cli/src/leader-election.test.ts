import { describe, expect, it } from 'vitest';
import { parseElectionJson, parseLeaderElectionArgs } from './leader-election.js';

const base = ['--bootstrap-server', 'h:1'];

describe('gregor leader-election arguments', () => {
  it.each([
    [['--election-type', 'PREFERRED', '--all-topic-partitions'], '--bootstrap-server is required'],
    [[...base, '--all-topic-partitions'], '--election-type is required'],
    [[...base, '--election-type', 'CLEAN', '--all-topic-partitions'], 'must be PREFERRED or UNCLEAN'],
    [[...base, '--election-type', 'PREFERRED'], 'exactly one of'],
    [[...base, '--election-type', 'PREFERRED', '--topic', 't'], '--topic needs --partition'],
    [[...base, '--election-type', 'PREFERRED', '--topic', 't', '--partition', '-1'], 'non-negative'],
    [
      [...base, '--election-type', 'PREFERRED', '--topic', 't', '--partition', '0', '--all-topic-partitions'],
      'exactly one of',
    ],
  ])('%j is refused: %s', (args, message) => {
    const parsed = parseLeaderElectionArgs(args);
    expect(typeof parsed).toBe('string');
    expect(parsed).toContain(message);
  });

  it('reads each target form, the election type in any case', () => {
    expect(
      parseLeaderElectionArgs([...base, '--election-type', 'unclean', '--topic', 't', '--partition', '3']),
    ).toMatchObject({
      electionType: 'UNCLEAN',
      target: { kind: 'partitions', partitions: [{ topic: 't', partition: 3 }] },
    });
    expect(
      parseLeaderElectionArgs([...base, '--election-type', 'PREFERRED', '--all-topic-partitions']),
    ).toMatchObject({
      target: { kind: 'all' },
    });
    expect(
      parseLeaderElectionArgs([...base, '--election-type=PREFERRED', '--path-to-json-file', 'f.json']),
    ).toMatchObject({
      target: { kind: 'file', path: 'f.json' },
    });
  });

  it("reads Kafka's JSON file and says what is wrong with a bad one", () => {
    expect(
      parseElectionJson('{"partitions": [{"topic": "a", "partition": 1}, {"topic": "b", "partition": 0}]}'),
    ).toEqual([
      { topic: 'a', partition: 1 },
      { topic: 'b', partition: 0 },
    ]);
    expect(parseElectionJson('{')).toContain('not JSON');
    expect(parseElectionJson('{"topics": []}')).toContain('expected {"partitions"');
    expect(parseElectionJson('{"partitions": [{"topic": "a"}]}')).toContain('bad entry');
    expect(
      parseElectionJson('{"partitions": [{"topic": "a", "partition": 1}, {"topic": "a", "partition": 1}]}'),
    ).toContain('duplicate partition a-1');
  });
});

import { describe, expect, it } from 'vitest';
import { parseLogDirsArgs } from './log-dirs.js';

describe('gregor log-dirs arguments', () => {
  it.each([
    [['--describe'], '--bootstrap-server is required'],
    [['--bootstrap-server', 'h:1'], '--describe is required'],
    [['--bootstrap-server', 'h:1', '--describe', '--broker-list', '1,x'], 'expected broker ids'],
    [['--bootstrap-server', 'h:1', '--describe', '--frob'], "unknown option '--frob'"],
  ])('%j is refused: %s', (args, message) => {
    const parsed = parseLogDirsArgs(args);
    expect(typeof parsed).toBe('string');
    expect(parsed).toContain(message);
  });

  it('reads the topic and broker lists', () => {
    expect(
      parseLogDirsArgs([
        '--bootstrap-server',
        'h:1',
        '--describe',
        '--topic-list',
        'a,b',
        '--broker-list',
        '2,3',
      ]),
    ).toMatchObject({ topics: ['a', 'b'], brokerIds: [2, 3] });
    expect(parseLogDirsArgs(['--bootstrap-server', 'h:1', '--describe'])).toMatchObject({
      topics: [],
      brokerIds: null,
    });
  });
});

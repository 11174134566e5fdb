import { describe, expect, it } from 'vitest';
import { runTransactions, transactionsUsage } from './transactions.js';

function capture() {
  let text = '';
  return {
    write: (chunk: string) => {
      text += chunk;
    },
    text: () => text,
  };
}

describe('gregor transactions arguments', () => {
  it.each([
    [['list'], '--bootstrap-server is required'],
    [['--bootstrap-server', 'h:1'], 'a command is required'],
    [['--bootstrap-server', 'h:1', 'describe'], 'describe needs --transactional-id'],
    [
      ['--bootstrap-server', 'h:1', 'describe-producers', '--partition', '0'],
      'describe-producers needs --topic',
    ],
    [['--bootstrap-server', 'h:1', 'describe-producers', '--topic', 't'], '--partition is required'],
    [
      [
        '--bootstrap-server',
        'h:1',
        'describe-producers',
        '--topic',
        't',
        '--partition',
        '0',
        '--broker-id',
        'x',
      ],
      '--broker-id must be an integer',
    ],
    [['--bootstrap-server', 'h:1', 'frobnicate'], "unknown command 'frobnicate'"],
    [['--bootstrap-server', 'nope', 'list'], 'expected host:port'],
    [
      [
        '--bootstrap-server',
        'h:1',
        'abort',
        '--topic',
        't',
        '--partition',
        '0',
        '--producer-id',
        '5',
        '--coordinator-epoch',
        '1',
      ],
      '--producer-epoch is required',
    ],
    [
      [
        '--bootstrap-server',
        'h:1',
        'abort',
        '--topic',
        't',
        '--partition',
        '-1',
        '--producer-id',
        '5',
        '--producer-epoch',
        '0',
        '--coordinator-epoch',
        '1',
      ],
      '--partition must be an integer',
    ],
  ])('%j is a usage error naming what is wrong', async (args, message) => {
    const out = capture();
    const err = capture();
    expect(await runTransactions(args, out, err)).toBe(2);
    expect(err.text()).toContain(message);
    expect(out.text()).toBe('');
  });

  it('prints its usage for --help', async () => {
    const out = capture();
    expect(await runTransactions(['--help'], out, capture())).toBe(0);
    expect(out.text()).toBe(transactionsUsage);
  });
});

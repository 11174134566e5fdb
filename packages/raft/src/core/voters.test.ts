import { describe, expect, it } from 'vitest';
import { parseQuorumVoters } from './voters.js';

describe('parseQuorumVoters', () => {
  it('parses Kafka syntax, including bracketed IPv6 hosts', () => {
    expect(parseQuorumVoters('1@127.0.0.1:9192, 2@controller-2:9193,3@[::1]:9194')).toEqual({
      ok: true,
      voters: [
        { id: 1, host: '127.0.0.1', port: 9192 },
        { id: 2, host: 'controller-2', port: 9193 },
        { id: 3, host: '::1', port: 9194 },
      ],
    });
  });

  it.each([
    ['1@a:1,x@b:2', 'x@b:2', "node id 'x'"],
    ['1@a:1,2b:2', '2b:2', 'expected id@host:port'],
    ['1@a', '1@a', 'expected host:port'],
    ['1@:9000', '1@:9000', 'host is empty'],
    ['1@a:70000', '1@a:70000', 'port 70000'],
    ['1@a:9x', '1@a:9x', "port '9x'"],
    ['1@::1:9000', '1@::1:9000', 'must be in brackets'],
    ['1@[::1:9000', '1@[::1:9000', 'unterminated'],
    ['-1@a:1', '-1@a:1', 'not a non-negative integer'],
    ['1@a:1,', '', 'expected id@host:port'],
  ])('refuses %s naming the bad entry', (input, entry, reason) => {
    const result = parseQuorumVoters(input);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error).toMatchObject({ kind: 'bad-entry', entry });
    if (result.error.kind === 'bad-entry') expect(result.error.reason).toContain(reason);
  });

  it('takes port 0 as a port not known yet', () => {
    expect(parseQuorumVoters('1@127.0.0.1:0,2@127.0.0.1:9193')).toEqual({
      ok: true,
      voters: [
        { id: 1, host: '127.0.0.1', port: 0 },
        { id: 2, host: '127.0.0.1', port: 9193 },
      ],
    });
  });

  it('refuses duplicate ids and an empty list', () => {
    expect(parseQuorumVoters('1@a:1,1@b:2')).toEqual({
      ok: false,
      error: { kind: 'duplicate-id', entry: '1@b:2', id: 1 },
    });
    expect(parseQuorumVoters('  ')).toEqual({ ok: false, error: { kind: 'empty' } });
  });
});

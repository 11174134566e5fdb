import { describe, expect, it } from 'vitest';
import { parseProperties } from './properties.js';

describe('parseProperties', () => {
  it('reads the separators, comments and continuations of Java properties', () => {
    const parsed = parseProperties(
      [
        '# a comment',
        '! another',
        'node.id=1',
        'process.roles : broker,controller',
        'log.dirs /var/lib/gregor',
        '  listeners=PLAINTEXT://:9092,\\',
        '    CONTROLLER://:9192',
        'path=C:\\\\data\\tdir',
        'unicode=\\u0041b',
        'empty=',
        'node.id=2',
      ].join('\n'),
    );
    expect(Object.fromEntries(parsed)).toEqual({
      'node.id': '2',
      'process.roles': 'broker,controller',
      'log.dirs': '/var/lib/gregor',
      listeners: 'PLAINTEXT://:9092,CONTROLLER://:9192',
      path: 'C:\\data\tdir',
      unicode: 'Ab',
      empty: '',
    });
  });

  it('refuses a malformed unicode escape with the line number', () => {
    expect(() => parseProperties('a=1\nb=\\u12')).toThrow(/line 2/);
  });
});

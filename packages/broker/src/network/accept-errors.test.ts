import { createServer } from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { logAcceptErrors } from './accept-errors.js';

describe('logAcceptErrors', () => {
  it('keeps a listener alive through accept errors and logs one line per interval', () => {
    const lines: string[] = [];
    const logger = pino(
      new Writable({
        write: (chunk: Buffer, _encoding, done) => {
          lines.push(chunk.toString());
          done();
        },
      }),
    );
    const server = createServer();
    logAcceptErrors(server, 'PLAINTEXT', logger);
    // What Node emits when libuv reports a failed accept (its spare descriptor gone too).
    const emfile = Object.assign(new Error('accept EMFILE'), { code: 'EMFILE', syscall: 'accept' });
    expect(() => server.emit('error', emfile)).not.toThrow();
    expect(() => server.emit('error', emfile)).not.toThrow();
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({
      listener: 'PLAINTEXT',
      code: 'EMFILE',
      msg: 'cannot accept connections: no file descriptor left; still listening',
    });
    // Without the listener the same event throws: that is what used to end the process.
    expect(() => createServer().emit('error', emfile)).toThrow(/EMFILE/);
  });
});

import { describe, expect, it } from 'vitest';
import { commands, usageExitCode } from './commands.js';

/** Runs one `gregor` command in process and keeps what it wrote. */
async function run(name: string, args: readonly string[]) {
  let out = '';
  let err = '';
  const code = await commands[name]!.run(
    args,
    { write: (text: string) => (out += text) },
    { write: (text: string) => (err += text) },
  );
  return { code, out, err };
}

describe('every gregor command', () => {
  it.each(Object.keys(commands))('%s: --help prints its usage and exits 0', async (name) => {
    const { code, out, err } = await run(name, ['--help']);
    expect(code).toBe(0);
    expect(out).toMatch(/^Usage: /);
    expect(err).toBe('');
  });

  it.each(Object.keys(commands))('%s: an unknown option is a usage error that names it', async (name) => {
    const { code, out, err } = await run(name, ['--no-such-option']);
    expect(code).toBe(usageExitCode);
    expect(err).toContain("'--no-such-option'");
    expect(out).toBe('');
  });
});

describe('the commands that reach a cluster', () => {
  // Port 1 on the loopback refuses at once: every tool says why on stderr and exits 1, printing nothing else.
  const refused = '127.0.0.1:1';
  it.each([
    ['topics', 'list'],
    ['configs', '--describe', '--entity-type', 'topics', '--entity-name', 't'],
    ['quotas', '--describe', '--entity-type', 'users'],
    ['groups', '--list'],
    ['get-offsets', '--topic', 't'],
    ['transactions', 'list'],
    ['metadata-quorum', 'describe', '--status'],
    ['log-dirs', '--describe'],
    ['reassign-partitions', '--list'],
  ])(
    '%s: an unreachable bootstrap server is Error: no bootstrap server reachable, exit 1',
    async (name, ...args) => {
      const { code, out, err } = await run(name, ['--bootstrap-server', refused, ...args]);
      expect(code).toBe(1);
      expect(out).toBe('');
      expect(err).toMatch(
        /^Error: no bootstrap server reachable \(127\.0\.0\.1:1: connect to 127\.0\.0\.1:1: .*ECONNREFUSED.*\)\n$/,
      );
    },
  );

  it.each([
    ['acls', '--list'],
    ['users', '--describe'],
  ])('%s: an unreachable server is Error: <why>, exit 1', async (name, ...args) => {
    const { code, out, err } = await run(name, ['--bootstrap-server', refused, ...args]);
    expect(code).toBe(1);
    expect(out).toBe('');
    expect(err).toMatch(/^Error: connect to 127\.0\.0\.1:1: .*ECONNREFUSED/);
  });
});

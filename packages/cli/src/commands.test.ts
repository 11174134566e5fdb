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

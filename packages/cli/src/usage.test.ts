import { describe, expect, it } from 'vitest';
import { optionsOrUsageExit, runOrUsageExit, usageExitCode } from './usage.js';

function outputs() {
  const text = { out: '', err: '' };
  return {
    text,
    out: { write: (chunk: string) => (text.out += chunk) },
    err: { write: (chunk: string) => (text.err += chunk) },
  };
}

const usage = 'Usage: gregor tool --flag\n';

describe('runOrUsageExit', () => {
  it('prints the usage on stdout for help (exit code 0)', () => {
    const { text, out, err } = outputs();
    expect(runOrUsageExit('tool', usage, { kind: 'help' }, out, err)).toBe(0);
    expect(text).toEqual({ out: usage, err: '' });
  });

  it('prints `gregor <tool>: <why>` and the usage on stderr for a usage error (exit code 2)', () => {
    const { text, out, err } = outputs();
    const parsed = { kind: 'usage-error', message: '--flag needs a value' } as const;
    expect(runOrUsageExit('tool', usage, parsed, out, err)).toBe(usageExitCode);
    expect(usageExitCode).toBe(2);
    expect(text).toEqual({ out: '', err: `gregor tool: --flag needs a value\n${usage}` });
  });

  it('hands back what to run, printing nothing', () => {
    const { text, out, err } = outputs();
    const run = { kind: 'options', options: { flag: 1 } } as const;
    expect(runOrUsageExit('tool', usage, run, out, err)).toBe(run);
    expect(text).toEqual({ out: '', err: '' });
  });
});

describe('optionsOrUsageExit', () => {
  it("prints the usage for 'help', the error and the usage for any other text, and hands back options", () => {
    const help = outputs();
    expect(optionsOrUsageExit('tool', usage, 'help', help.out, help.err)).toBe(0);
    expect(help.text).toEqual({ out: usage, err: '' });
    const wrong = outputs();
    expect(optionsOrUsageExit('tool', usage, 'unknown option --x', wrong.out, wrong.err)).toBe(2);
    expect(wrong.text).toEqual({ out: '', err: `gregor tool: unknown option --x\n${usage}` });
    const fine = outputs();
    const options = { flag: 1 };
    expect(optionsOrUsageExit('tool', usage, options, fine.out, fine.err)).toBe(options);
    expect(fine.text).toEqual({ out: '', err: '' });
  });
});

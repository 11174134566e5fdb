import { describe, expect, it } from 'vitest';
import { runCli } from './commands.js';
import { formatDescribedConfigs } from './configs.js';
import { parseConfigsArgs } from './configs-args.js';

const bootstrap = ['--bootstrap-server', 'localhost:9092'];

describe('gregor configs arguments', () => {
  it('parses describe and alter in kafka-configs.sh terms', () => {
    expect(
      parseConfigsArgs([...bootstrap, 'describe', '--entity-type', 'topics', '--entity-name', 't']),
    ).toMatchObject({
      kind: 'options',
      options: { command: { kind: 'describe', entityType: 'topics', entityName: 't' } },
    });
    expect(
      parseConfigsArgs([
        ...bootstrap,
        'alter',
        '--entity-type=topics',
        '--entity-name=t',
        '--add-config',
        'retention.ms=1000,cleanup.policy=compact',
        '--delete-config',
        'segment.ms',
      ]),
    ).toMatchObject({
      options: {
        command: {
          kind: 'alter',
          set: [
            { name: 'retention.ms', value: '1000' },
            { name: 'cleanup.policy', value: 'compact' },
          ],
          remove: ['segment.ms'],
        },
      },
    });
  });

  it('names what is wrong', () => {
    const message = (args: string[]) => {
      const parsed = parseConfigsArgs(args);
      return parsed.kind === 'usage-error' ? parsed.message : parsed.kind;
    };
    expect(message(['describe'])).toBe('--bootstrap-server is required');
    expect(message([...bootstrap, 'describe', '--entity-type', 'groups', '--entity-name', 'g'])).toBe(
      "--entity-type must be topics or brokers, got 'groups'",
    );
    expect(message([...bootstrap, 'alter', '--entity-type', 'topics', '--entity-name', 't'])).toBe(
      'alter needs --add-config or --delete-config',
    );
    expect(
      message([...bootstrap, 'alter', '--entity-type', 'topics', '--entity-name', 't', '--add-config', 'x']),
    ).toBe("--add-config: expected key=value, got 'x'");
    expect(message([...bootstrap, 'frobnicate'])).toBe("unknown command 'frobnicate'");
    expect(message(['--help'])).toBe('help');
  });

  it('prints its usage for --help and exits 2 on a usage error', async () => {
    let out = '';
    let err = '';
    const sink = (append: (text: string) => void) => ({ write: append });
    expect(
      await runCli(
        ['configs', '--help'],
        sink((text) => (out += text)),
        sink(() => {}),
      ),
    ).toBe(0);
    expect(out).toContain('Usage: gregor configs');
    expect(
      await runCli(
        ['configs', 'describe'],
        sink(() => {}),
        sink((text) => (err += text)),
      ),
    ).toBe(2);
    expect(err).toContain('gregor configs: --bootstrap-server is required');
  });
});

describe("kafka-configs.sh's describe output", () => {
  it('lists each config with its sensitivity and synonyms by source', () => {
    expect(
      formatDescribedConfigs('topics', 't', [
        {
          name: 'retention.ms',
          value: '1000',
          source: 1,
          isSensitive: false,
          synonyms: [
            { name: 'retention.ms', value: '1000', source: 1 },
            { name: 'log.retention.ms', value: '604800000', source: 5 },
          ],
        },
      ]),
    ).toBe(
      'Dynamic configs for topic t are:\n' +
        '  retention.ms=1000 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:retention.ms=1000, ' +
        'DEFAULT_CONFIG:log.retention.ms=604800000}\n',
    );
  });
});

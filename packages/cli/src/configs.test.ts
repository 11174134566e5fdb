import { describe, expect, it } from 'vitest';
import { runCli } from './commands.js';
import { formatDescribedConfigs, formatQuotaEntity, formatQuotaValue } from './configs.js';
import { parseConfigsArgs, parseQuotasArgs } from './configs-args.js';

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

  it('takes broker entities by id or as the cluster-wide default, and --all for describe', () => {
    expect(
      parseConfigsArgs([
        ...bootstrap,
        '--alter',
        '--entity-type',
        'brokers',
        '--entity-default',
        '--add-config',
        'log.retention.ms=1000',
      ]),
    ).toMatchObject({
      options: {
        command: {
          kind: 'alter',
          entityType: 'brokers',
          entityName: '',
          set: [{ name: 'log.retention.ms', value: '1000' }],
        },
      },
    });
    expect(
      parseConfigsArgs([
        ...bootstrap,
        '--describe',
        '--entity-type',
        'brokers',
        '--entity-name',
        '2',
        '--all',
      ]),
    ).toMatchObject({
      options: { command: { kind: 'describe', entityType: 'brokers', entityName: '2', all: true } },
    });
    const message = (args: string[]) => {
      const parsed = parseConfigsArgs([...bootstrap, ...args]);
      return parsed.kind === 'usage-error' ? parsed.message : parsed.kind;
    };
    expect(message(['--describe', '--entity-type', 'topics', '--entity-default'])).toBe(
      '--entity-default goes with brokers here',
    );
    expect(message(['--describe', '--entity-type', 'brokers', '--entity-name', 'b1'])).toBe(
      "--entity-name of a broker is its id, got 'b1'",
    );
    expect(
      message(['--describe', '--entity-type', 'brokers', '--entity-name', '1', '--entity-default']),
    ).toBe('--entity-name and --entity-default cannot both be given');
  });

  it('prints the cluster default as kafka-configs.sh does', () => {
    expect(
      formatDescribedConfigs('brokers', '', [
        {
          name: 'log.retention.ms',
          value: '1000',
          source: 3,
          isSensitive: false,
          synonyms: [{ name: 'log.retention.ms', value: '1000', source: 3 }],
        },
      ]),
    ).toBe(
      'Default configs for brokers in the cluster are:\n' +
        '  log.retention.ms=1000 sensitive=false synonyms={DYNAMIC_DEFAULT_BROKER_CONFIG:log.retention.ms=1000}\n',
    );
  });

  it('names what is wrong', () => {
    const message = (args: string[]) => {
      const parsed = parseConfigsArgs(args);
      return parsed.kind === 'usage-error' ? parsed.message : parsed.kind;
    };
    expect(message(['describe'])).toBe('--bootstrap-server is required');
    expect(message([...bootstrap, 'describe', '--entity-type', 'groups', '--entity-name', 'g'])).toBe(
      "--entity-type must be topics, brokers, users, clients or ips, got 'groups'",
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

describe('gregor configs for client quotas', () => {
  it('parses kafka-configs.sh quota commands: --alter/--describe, users and clients together, defaults', () => {
    expect(
      parseConfigsArgs([
        ...bootstrap,
        '--alter',
        '--add-config',
        'producer_byte_rate=1024,request_percentage=12.5',
        '--entity-type',
        'users',
        '--entity-name',
        'alice',
        '--entity-type',
        'clients',
        '--entity-default',
      ]),
    ).toMatchObject({
      kind: 'options',
      options: {
        command: {
          kind: 'alter-quotas',
          entity: [
            { entityType: 'user', entityName: 'alice' },
            { entityType: 'client-id', entityName: null },
          ],
          set: [
            { name: 'producer_byte_rate', value: 1024 },
            { name: 'request_percentage', value: 12.5 },
          ],
          remove: [],
        },
      },
    });
    expect(parseConfigsArgs([...bootstrap, '--describe', '--entity-type', 'clients'])).toMatchObject({
      options: {
        command: { kind: 'describe-quotas', entity: [{ entityType: 'client-id', entityName: undefined }] },
      },
    });
  });

  it('names what is wrong with a quota command', () => {
    const message = (args: string[]) => {
      const parsed = parseConfigsArgs([...bootstrap, ...args]);
      return parsed.kind === 'usage-error' ? parsed.message : parsed.kind;
    };
    expect(message(['--alter', '--entity-type', 'users', '--add-config', 'producer_byte_rate=1'])).toBe(
      'alter needs --entity-name or --entity-default for each --entity-type',
    );
    expect(
      message([
        '--alter',
        '--entity-type',
        'users',
        '--entity-name',
        'u',
        '--add-config',
        'producer_byte_rate=fast',
      ]),
    ).toBe("--add-config: a quota value is a number, got 'producer_byte_rate=fast'");
    expect(message(['--describe', '--entity-type', 'users', '--entity-type', 'users'])).toBe(
      '--entity-type users given twice',
    );
    expect(message(['--describe', '--entity-type', 'users', '--entity-type', 'topics'])).toBe(
      '--entity-type topics cannot be combined with quota entity types',
    );
  });

  it('names entities and values as kafka-configs.sh prints them', () => {
    expect(
      formatQuotaEntity([
        { entityType: 'user', entityName: 'alice' },
        { entityType: 'client-id', entityName: null },
      ]),
    ).toBe("user-principal 'alice', the default client-id");
    expect(formatQuotaValue(1024)).toBe('1024.0');
    expect(formatQuotaValue(12.5)).toBe('12.5');
  });
});

describe('gregor quotas', () => {
  it('parses describe and alter as gregor configs does for users, clients and ips', () => {
    const alter = [
      'alter',
      '--entity-type',
      'users',
      '--entity-name',
      'alice',
      '--entity-type=clients',
      '--entity-default',
      '--add-config',
      'consumer_byte_rate=2048',
      '--delete-config',
      'producer_byte_rate',
    ];
    expect(parseQuotasArgs([...bootstrap, ...alter])).toEqual(parseConfigsArgs([...bootstrap, ...alter]));
    expect(parseQuotasArgs([...bootstrap, ...alter])).toMatchObject({
      kind: 'options',
      options: {
        command: {
          kind: 'alter-quotas',
          entity: [
            { entityType: 'user', entityName: 'alice' },
            { entityType: 'client-id', entityName: null },
          ],
          set: [{ name: 'consumer_byte_rate', value: 2048 }],
          remove: ['producer_byte_rate'],
        },
      },
    });
    expect(parseQuotasArgs([...bootstrap, '--describe', '--entity-type', 'ips'])).toMatchObject({
      options: {
        command: { kind: 'describe-quotas', entity: [{ entityType: 'ip', entityName: undefined }] },
      },
    });
    expect(parseQuotasArgs(['--help'])).toEqual({ kind: 'help' });
  });

  it('names what is wrong, and refuses topic and broker configs', () => {
    const message = (args: string[]) => {
      const parsed = parseQuotasArgs(args);
      return parsed.kind === 'usage-error' ? parsed.message : parsed.kind;
    };
    expect(message([...bootstrap, 'describe', '--entity-type', 'topics', '--entity-name', 't'])).toBe(
      '--entity-type topics: gregor quotas sets client quotas (users, clients, ips); topics configs are under gregor configs',
    );
    expect(message([...bootstrap, 'describe', '--entity-type=brokers', '--entity-default'])).toBe(
      '--entity-type brokers: gregor quotas sets client quotas (users, clients, ips); brokers configs are under gregor configs',
    );
    expect(message([...bootstrap, 'describe', '--entity-type', 'groups'])).toBe(
      "--entity-type must be users, clients, ips, got 'groups'",
    );
    expect(message([...bootstrap, 'describe'])).toBe('--entity-type users, clients or ips is required');
    expect(message([...bootstrap, 'describe', '--entity-type'])).toBe(
      '--entity-type needs a value: users, clients or ips',
    );
    expect(message([...bootstrap, 'describe', '--entity-type', 'users', '--all'])).toBe(
      '--all goes with topic and broker configs (gregor configs)',
    );
    expect(message(['describe', '--entity-type', 'users'])).toBe('--bootstrap-server is required');
    expect(message([...bootstrap, '--entity-type', 'users'])).toBe(
      'a command is required: describe or alter',
    );
    expect(message([...bootstrap, 'list', '--entity-type', 'users'])).toBe("unknown command 'list'");
    expect(
      message([...bootstrap, 'alter', '--entity-type', 'clients', '--entity-name', 'c', '--add-config', 'x']),
    ).toBe("--add-config: expected key=value, got 'x'");
    expect(message([...bootstrap, 'alter', '--entity-type', 'clients', '--entity-name', 'c'])).toBe(
      'alter needs --add-config or --delete-config',
    );
  });

  it('prints its usage for --help, and exits 2 naming the problem on a usage error', async () => {
    let out = '';
    let err = '';
    const sink = (append: (text: string) => void) => ({ write: append });
    expect(
      await runCli(
        ['quotas', '--help'],
        sink((text) => (out += text)),
        sink(() => {}),
      ),
    ).toBe(0);
    expect(out).toContain('Usage: gregor quotas');
    expect(out).toContain('--entity-type users|clients|ips');
    expect(
      await runCli(
        [
          'quotas',
          ...bootstrap,
          'alter',
          '--entity-type',
          'topics',
          '--entity-name',
          't',
          '--add-config',
          'retention.ms=1',
        ],
        sink(() => {}),
        sink((text) => (err += text)),
      ),
    ).toBe(2);
    expect(err).toMatch(/^gregor quotas: --entity-type topics: gregor quotas sets client quotas/);
    expect(err).toContain('Usage: gregor quotas');
  });

  it('is listed in gregor --help, and configs no longer says topic configs only', async () => {
    let out = '';
    await runCli(['--help'], { write: (text) => (out += text) }, { write: () => {} });
    expect(out).toMatch(/quotas\s+describe and alter client quotas of users, client ids and ips/);
    expect(out).toMatch(/configs\s+describe and alter topic and broker configs and client quotas/);
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

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode } from '@gregor/protocol';
import { afterAll, describe, expect, it } from 'vitest';
import {
  formatTokenDate,
  parseDelegationTokensArgs,
  runDelegationTokens,
  tokenErrorText,
  tokensTable,
} from './delegation-tokens.js';

const dir = mkdtempSync(join(tmpdir(), 'gregor-dt-'));
const config = join(dir, 'client.properties');
writeFileSync(
  config,
  'security.protocol=SASL_PLAINTEXT\nsasl.mechanism=SCRAM-SHA-512\n' +
    'sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="a";\n',
);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const common = ['--bootstrap-server', 'localhost:9092', '--command-config', config];

describe('gregor delegation-tokens arguments', () => {
  it("parses kafka-delegation-tokens.sh's four actions", () => {
    expect(
      parseDelegationTokensArgs([
        ...common,
        '--create',
        '--max-life-time-period',
        '-1',
        '--renewer-principal',
        'User:bob',
        '--renewer-principal=User:carol',
        '--owner-principal',
        'User:dora',
      ]),
    ).toMatchObject({
      bootstrap: { host: 'localhost', port: 9092 },
      security: { protocol: 'SASL_PLAINTEXT' },
      command: {
        kind: 'create',
        maxLifeTimeMs: -1n,
        renewers: [
          { principalType: 'User', principalName: 'bob' },
          { principalType: 'User', principalName: 'carol' },
        ],
        owner: { principalType: 'User', principalName: 'dora' },
      },
    });
    expect(
      parseDelegationTokensArgs([...common, '--renew', '--hmac', 'AAEC', '--renew-time-period', '3600000']),
    ).toMatchObject({ command: { kind: 'renew', hmac: Buffer.from([0, 1, 2]), periodMs: 3_600_000n } });
    expect(
      parseDelegationTokensArgs([...common, '--expire', '--hmac', 'AAEC', '--expiry-time-period', '-1']),
    ).toMatchObject({ command: { kind: 'expire', periodMs: -1n } });
    expect(parseDelegationTokensArgs([...common, '--describe'])).toMatchObject({
      command: { kind: 'describe', owners: null },
    });
    expect(
      parseDelegationTokensArgs([
        ...common,
        '--describe',
        '--owner-principal',
        'User:a',
        '--owner-principal',
        'User:b',
      ]),
    ).toMatchObject({
      command: { kind: 'describe', owners: [{ principalName: 'a' }, { principalName: 'b' }] },
    });
    expect(parseDelegationTokensArgs(['--help'])).toBe('help');
  });

  it('names what is wrong', () => {
    const errors: [string[], string][] = [
      [['--bootstrap-server', 'localhost:9092', '--describe'], '--command-config is required'],
      [[...common], 'give exactly one of --create, --renew, --expire, --describe'],
      [[...common, '--create', '--describe'], 'give exactly one of'],
      [[...common, '--create'], '--create needs --max-life-time-period'],
      [
        [...common, '--create', '--max-life-time-period', '1d'],
        "must be an integer number of milliseconds, got '1d'",
      ],
      [[...common, '--renew', '--renew-time-period', '1'], '--renew needs --hmac'],
      [[...common, '--expire', '--hmac', 'AAEC'], '--expire needs --expiry-time-period'],
      [[...common, '--renew', '--hmac', 'not base64!', '--renew-time-period', '1'], '--hmac must be'],
      [[...common, '--describe', '--hmac', 'AAEC'], '--hmac cannot be used with --describe'],
      [
        [...common, '--create', '--max-life-time-period', '1', '--renewer-principal', 'bob'],
        'principalType:name',
      ],
      [[...common, '--describe', '--frobnicate'], "unknown argument '--frobnicate'"],
      [['--describe', '--command-config', config], '--bootstrap-server is required'],
      [['--describe', '--bootstrap-server', 'localhost:9092', '--command-config', join(dir, 'none')], 'none'],
    ];
    for (const [args, message] of errors) {
      const parsed = parseDelegationTokensArgs(args);
      expect(typeof parsed, args.join(' ')).toBe('string');
      expect(parsed).toContain(message);
    }
  });

  it('exits 2 with the usage on a usage error, 0 with it on --help', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const writer = (sink: string[]) => ({ write: (text: string) => sink.push(text) !== 0 });
    expect(await runDelegationTokens(['--describe'], writer(out), writer(err))).toBe(2);
    expect(err.join('')).toContain('gregor delegation-tokens: --bootstrap-server is required');
    expect(err.join('')).toContain('Usage: gregor delegation-tokens');
    expect(await runDelegationTokens(['--help'], writer(out), writer(err))).toBe(0);
    expect(out.join('')).toContain('--max-life-time-period MS');
  });
});

describe('gregor delegation-tokens output', () => {
  it("prints kafka-delegation-tokens.sh's table with base64 HMACs and UTC dates", () => {
    const issued = Date.UTC(2026, 0, 2, 3, 4);
    const table = tokensTable([
      {
        tokenId: 'tok',
        hmac: Buffer.from([1, 2, 3]),
        owner: 'User:alice',
        requester: 'User:admin',
        renewers: ['User:bob'],
        issueTimestamp: BigInt(issued),
        expiryTimestamp: BigInt(issued + 86_400_000),
        maxTimestamp: BigInt(issued + 7 * 86_400_000),
      },
    ]);
    const lines = table.split('\n');
    expect(lines[0]).toBe('');
    expect(lines[1]).toMatch(
      /^TOKENID\s+HMAC\s+OWNER\s+REQUESTER\s+RENEWERS\s+ISSUEDATE\s+EXPIRYDATE\s+MAXDATE$/,
    );
    expect(lines[2]!.split(/\s+/)).toEqual([
      'tok',
      'AQID',
      'User:alice',
      'User:admin',
      '[User:bob]',
      '2026-01-02T03:04',
      '2026-01-03T03:04',
      '2026-01-09T03:04',
    ]);
    expect(formatTokenDate(0n)).toBe('1970-01-01T00:00');
  });

  it('says why a token request was refused', () => {
    expect(tokenErrorText(ErrorCode.DELEGATION_TOKEN_AUTH_DISABLED)).toBe(
      'DELEGATION_TOKEN_AUTH_DISABLED: the brokers have no delegation.token.secret.key',
    );
    expect(tokenErrorText(ErrorCode.DELEGATION_TOKEN_OWNER_MISMATCH)).toContain(
      'owner, requester or renewers',
    );
  });
});

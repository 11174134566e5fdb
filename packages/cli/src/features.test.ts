import { ErrorCode } from '@gregor/protocol';
import { describe, expect, it } from 'vitest';
import { describeText, parseFeaturesArgs, updateText } from './features.js';

const bootstrap = ['--bootstrap-server', 'localhost:9092'];

describe('gregor features arguments', () => {
  it("parses kafka-features.sh's describe, upgrade, downgrade and disable", () => {
    expect(parseFeaturesArgs(['describe', ...bootstrap])).toMatchObject({
      bootstrap: [{ host: 'localhost', port: 9092 }],
      command: { kind: 'describe' },
    });
    expect(
      parseFeaturesArgs([
        ...bootstrap,
        'upgrade',
        '--feature',
        'group.version=1',
        '--feature=transaction.version=2',
        '--dry-run',
      ]),
    ).toMatchObject({
      command: {
        kind: 'upgrade',
        dryRun: true,
        unsafe: false,
        updates: [
          { feature: 'group.version', level: 1 },
          { feature: 'transaction.version', level: 2 },
        ],
      },
    });
    expect(
      parseFeaturesArgs([...bootstrap, 'downgrade', '--feature', 'group.version=0', '--unsafe']),
    ).toMatchObject({
      command: { kind: 'downgrade', unsafe: true, updates: [{ feature: 'group.version', level: 0 }] },
    });
    expect(parseFeaturesArgs([...bootstrap, 'disable', '--feature', 'group.version'])).toMatchObject({
      command: { kind: 'disable', updates: [{ feature: 'group.version', level: 0 }] },
    });
    expect(parseFeaturesArgs(['--help'])).toBe('help');
  });

  it('names what is wrong', () => {
    expect(parseFeaturesArgs([...bootstrap, 'upgrade'])).toBe('upgrade needs at least one --feature');
    expect(parseFeaturesArgs([...bootstrap, 'upgrade', '--feature', 'group.version'])).toBe(
      "--feature must be name=level, got 'group.version'",
    );
    expect(parseFeaturesArgs([...bootstrap, 'upgrade', '--feature', 'group.version=x'])).toBe(
      "the level of group.version must be an integer from 0 to 32767, got 'x'",
    );
    expect(parseFeaturesArgs([...bootstrap, 'disable', '--feature', 'group.version=1'])).toBe(
      "disable takes feature names without a level, got 'group.version=1'",
    );
    expect(
      parseFeaturesArgs([...bootstrap, 'upgrade', '--feature', 'a.version=1', '--feature', 'a.version=2']),
    ).toBe('--feature a.version is given more than once');
    expect(parseFeaturesArgs([...bootstrap, 'upgrade', '--feature', 'a.version=1', '--unsafe'])).toBe(
      '--unsafe is for downgrade and disable',
    );
    expect(parseFeaturesArgs([...bootstrap, 'upgrade', '--metadata', '4.1'])).toBe(
      '--metadata sets metadata.version, which Gregor does not have (its metadata log has its own records); use --feature',
    );
    expect(parseFeaturesArgs([...bootstrap, 'describe', '--feature', 'a=1'])).toBe(
      'describe takes no --feature',
    );
    expect(parseFeaturesArgs([...bootstrap, 'upgrade', '--feature'])).toBe('--feature needs a value');
    expect(parseFeaturesArgs([...bootstrap])).toBe(
      'a command is required: describe, upgrade, downgrade or disable',
    );
    expect(parseFeaturesArgs([...bootstrap, 'frob'])).toBe("unknown command 'frob'");
    expect(parseFeaturesArgs(['describe'])).toBe('--bootstrap-server is required');
  });
});

describe('gregor features output', () => {
  it("prints kafka-features.sh describe's line per supported feature, by name", () => {
    expect(
      describeText({
        supportedFeatures: [
          { name: 'test.version', minVersion: 0, maxVersion: 3 },
          { name: 'group.version', minVersion: 0, maxVersion: 1 },
        ],
        finalizedFeaturesEpoch: 42n,
        finalizedFeatures: [{ name: 'test.version', maxVersionLevel: 2 }],
      }),
    ).toBe(
      'Feature: group.version\tSupportedMinVersion: 0\tSupportedMaxVersion: 1\tFinalizedVersionLevel: 0\tEpoch: 42\n' +
        'Feature: test.version\tSupportedMinVersion: 0\tSupportedMaxVersion: 3\tFinalizedVersionLevel: 2\tEpoch: 42\n',
    );
  });

  it('says per feature what was done, or could not be and why', () => {
    const command = {
      kind: 'upgrade' as const,
      unsafe: false,
      dryRun: false,
      updates: [
        { feature: 'group.version', level: 1 },
        { feature: 'test.version', level: 9 },
      ],
    };
    const refused =
      'Invalid update version 9 for feature test.version. Local controller only supports versions 0-3.';
    expect(
      updateText(command, {
        errorCode: ErrorCode.INVALID_UPDATE_VERSION,
        errorMessage: refused,
        results: command.updates.map((update) => ({
          feature: update.feature,
          errorCode: ErrorCode.INVALID_UPDATE_VERSION,
          errorMessage: refused,
        })),
      }),
    ).toEqual({
      text:
        `Could not upgrade group.version to 1. INVALID_UPDATE_VERSION: ${refused}\n` +
        `Could not upgrade test.version to 9. INVALID_UPDATE_VERSION: ${refused}\n`,
      failures: 2,
    });
    const ok = { errorCode: ErrorCode.NONE, errorMessage: null, results: [] };
    expect(updateText({ ...command, dryRun: true, updates: [command.updates[0]!] }, ok).text).toBe(
      'group.version can be upgraded to 1.\n',
    );
    expect(
      updateText(
        { kind: 'disable', unsafe: false, dryRun: false, updates: [{ feature: 'group.version', level: 0 }] },
        ok,
      ).text,
    ).toBe('group.version was disabled.\n');
  });
});

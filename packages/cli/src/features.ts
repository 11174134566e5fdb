// `gregor features`: kafka-features.sh's describe, upgrade, downgrade and disable (KIP-584).
//   gregor features describe  --bootstrap-server host:port[,...]
//   gregor features upgrade   --bootstrap-server ... --feature name=level [--feature ...] [--dry-run]
//   gregor features downgrade --bootstrap-server ... --feature name=level [--feature ...] [--unsafe] [--dry-run]
//   gregor features disable   --bootstrap-server ... --feature name [--feature ...] [--unsafe] [--dry-run]
// describe reads ApiVersions (v4) from a bootstrap server, as Kafka's Admin.describeFeatures does;
// the others send UpdateFeatures v1 (any broker takes it to the controller), with validate_only for
// --dry-run. Kafka's --metadata and --release-version name metadata.version levels, which Gregor
// does not have (see the README's feature table): they are refused with that reason.

import { ApiKey } from '@gregor/client';
import { FeatureUpgradeType } from '@gregor/metadata';
import { ErrorCode, errorName } from '@gregor/protocol';
import { AdminCommandError, parseFlags, withAdminSession } from './admin-session.js';
import type { ClientSecurity } from './client-properties.js';
import { commandConfigFlag, commandConfigHelp, parseConnectionFlags } from './connection-flags.js';
import type { TextOutput } from './dump-log.js';
import type { Address } from './metadata-shell-args.js';
import { optionsOrUsageExit } from './usage.js';

export const featuresDefaultTimeoutMs = 30_000;
/** The longest --timeout-ms accepted (10 minutes). */
export const featuresTimeoutMsMax = 600_000;
/** At most this many --feature flags in one command. */
export const featureFlagsMax = 100;
const featureLevelMax = 0x7fff;

export const featuresUsage = `Usage: gregor features <command> --bootstrap-server host:port[,host:port...] [--timeout-ms N]
    [--command-config FILE]

Finalized feature levels (KIP-584), like kafka-features.sh:
  describe                                  the features the cluster supports, with their finalized levels
  upgrade   --feature name=level ...        raises each feature to that level
  downgrade --feature name=level ... [--unsafe]
                                            lowers each feature to that level
  disable   --feature name ... [--unsafe]   sets each feature to level 0
  --feature may be given more than once; --dry-run checks with the controller and changes nothing.
  All updates of one command are applied together or not at all.

${commandConfigHelp}
Exit codes: 0 ok, 1 failure (the broker's error is printed), 2 usage error.
`;

export interface FeatureLevelUpdate {
  readonly feature: string;
  readonly level: number;
}

export type FeaturesCommand =
  | { readonly kind: 'describe' }
  | {
      readonly kind: 'upgrade' | 'downgrade' | 'disable';
      readonly updates: readonly FeatureLevelUpdate[];
      readonly unsafe: boolean;
      readonly dryRun: boolean;
    };

export interface FeaturesOptions {
  readonly bootstrap: Address[];
  readonly timeoutMs: number;
  readonly security: ClientSecurity;
  readonly command: FeaturesCommand;
}

const featureName = /^[A-Za-z0-9._-]+$/;

/** Takes every `--feature X` / `--feature=X` out of args (parseFlags keeps one value per flag). */
function extractFeatureFlags(args: readonly string[]): { values: string[]; rest: string[] } | string {
  const values: string[] = [];
  const rest: string[] = [];
  for (let index = 0; index < args.length; index++) {
    const arg = args[index]!;
    if (arg === '--feature') {
      const value = args[++index];
      if (value === undefined || value === '') return '--feature needs a value';
      values.push(value);
    } else if (arg.startsWith('--feature=')) {
      const value = arg.slice('--feature='.length);
      if (value === '') return '--feature needs a value';
      values.push(value);
    } else {
      rest.push(arg);
    }
  }
  return { values, rest };
}

function parseFeatureUpdate(text: string, withLevel: boolean): FeatureLevelUpdate | string {
  const equals = text.indexOf('=');
  if (!withLevel) {
    if (equals >= 0) return `disable takes feature names without a level, got '${text}'`;
    if (!featureName.test(text)) return `'${text}' is not a feature name`;
    return { feature: text, level: 0 };
  }
  if (equals < 0) return `--feature must be name=level, got '${text}'`;
  const name = text.slice(0, equals);
  const levelText = text.slice(equals + 1);
  if (!featureName.test(name)) return `'${name}' is not a feature name`;
  if (!/^\d+$/.test(levelText) || Number(levelText) > featureLevelMax) {
    return `the level of ${name} must be an integer from 0 to ${featureLevelMax}, got '${levelText}'`;
  }
  return { feature: name, level: Number(levelText) };
}

export function parseFeaturesArgs(args: readonly string[]): FeaturesOptions | 'help' | string {
  const extracted = extractFeatureFlags(args);
  if (typeof extracted === 'string') return extracted;
  const parsed = parseFlags(
    extracted.rest,
    new Set(['--bootstrap-server', '--command-config', '--timeout-ms', '--metadata', '--release-version']),
    new Set(['--dry-run', '--unsafe']),
  );
  if (typeof parsed === 'string') return parsed;
  const { flags, positional } = parsed;
  for (const flag of ['--metadata', '--release-version']) {
    if (flags.has(flag)) {
      return `${flag} sets metadata.version, which Gregor does not have (its metadata log has its own records); use --feature`;
    }
  }
  const connection = parseConnectionFlags(
    flags,
    featuresDefaultTimeoutMs,
    featuresTimeoutMsMax,
    commandConfigFlag,
  );
  if (typeof connection === 'string') return connection;
  const [name, ...rest] = positional;
  if (rest.length > 0) return `unexpected '${rest.join(' ')}'`;
  const dryRun = flags.has('--dry-run');
  const unsafe = flags.has('--unsafe');
  switch (name) {
    case 'describe':
      if (extracted.values.length > 0) return 'describe takes no --feature';
      if (dryRun || unsafe) return 'describe takes no --dry-run or --unsafe';
      return { ...connection, command: { kind: 'describe' } };
    case 'upgrade':
    case 'downgrade':
    case 'disable': {
      if (extracted.values.length === 0) return `${name} needs at least one --feature`;
      if (extracted.values.length > featureFlagsMax) return `at most ${featureFlagsMax} --feature flags`;
      if (unsafe && name === 'upgrade') return '--unsafe is for downgrade and disable';
      const updates: FeatureLevelUpdate[] = [];
      for (const value of extracted.values) {
        const update = parseFeatureUpdate(value, name !== 'disable');
        if (typeof update === 'string') return update;
        if (updates.some((other) => other.feature === update.feature)) {
          return `--feature ${update.feature} is given more than once`;
        }
        updates.push(update);
      }
      return { ...connection, command: { kind: name, updates, unsafe, dryRun } };
    }
    case undefined:
      return 'a command is required: describe, upgrade, downgrade or disable';
    default:
      return `unknown command '${name}'`;
  }
}

export async function runFeatures(
  args: readonly string[],
  out: TextOutput,
  err: TextOutput,
): Promise<number> {
  const parsed = optionsOrUsageExit('features', featuresUsage, parseFeaturesArgs(args), out, err);
  if (typeof parsed === 'number') return parsed;
  const { command } = parsed;
  return withAdminSession({ ...parsed, clientId: 'gregor-features', out, err }, async (session) => {
    if (command.kind === 'describe') {
      const response = await session.bootstrap.call(
        ApiKey.ApiVersions,
        4,
        { clientSoftwareName: 'gregor-features', clientSoftwareVersion: '1' },
        session.timeoutMs,
      );
      if (response.errorCode !== ErrorCode.NONE) {
        throw new AdminCommandError(failureText(response.errorCode, null));
      }
      out.write(describeText(response));
      if (response.supportedFeatures.length === 0) {
        err.write('The cluster supports no feature above level 0.\n');
      }
      return 0;
    }
    const upgradeType =
      command.kind === 'upgrade'
        ? FeatureUpgradeType.UPGRADE
        : command.unsafe
          ? FeatureUpgradeType.UNSAFE_DOWNGRADE
          : FeatureUpgradeType.SAFE_DOWNGRADE;
    const response = await session.bootstrap.call(
      ApiKey.UpdateFeatures,
      1,
      {
        timeoutMs: session.timeoutMs,
        featureUpdates: command.updates.map((update) => ({
          feature: update.feature,
          maxVersionLevel: update.level,
          upgradeType,
        })),
        validateOnly: command.dryRun,
      },
      session.timeoutMs,
    );
    const { text, failures } = updateText(command, response);
    out.write(text);
    if (failures > 0) {
      throw new AdminCommandError(`${failures} out of ${command.updates.length} operation(s) failed.`);
    }
    return 0;
  });
}

interface DescribedFeatures {
  readonly supportedFeatures: readonly { name: string; minVersion: number; maxVersion: number }[];
  readonly finalizedFeaturesEpoch: bigint;
  readonly finalizedFeatures: readonly { name: string; maxVersionLevel: number }[];
}

/** kafka-features.sh describe's lines, one per supported feature, by name. */
export function describeText(described: DescribedFeatures): string {
  const finalized = new Map(described.finalizedFeatures.map((one) => [one.name, one.maxVersionLevel]));
  return [...described.supportedFeatures]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map(
      (feature) =>
        `Feature: ${feature.name}\tSupportedMinVersion: ${feature.minVersion}\t` +
        `SupportedMaxVersion: ${feature.maxVersion}\tFinalizedVersionLevel: ${finalized.get(feature.name) ?? 0}\t` +
        `Epoch: ${described.finalizedFeaturesEpoch}\n`,
    )
    .join('');
}

interface UpdateAnswer {
  readonly errorCode: number;
  readonly errorMessage: string | null;
  readonly results: readonly { feature: string; errorCode: number; errorMessage: string | null }[];
}

/** kafka-features.sh's line per feature: "<f> was upgraded to 2." or "Could not upgrade <f> to 2. <why>". */
export function updateText(
  command: Extract<FeaturesCommand, { updates: unknown }>,
  response: UpdateAnswer,
): { text: string; failures: number } {
  const verb = command.kind;
  let failures = 0;
  const lines = command.updates.map((update) => {
    const suffix = verb === 'disable' ? '' : ` to ${update.level}`;
    const result = response.results.find((one) => one.feature === update.feature);
    const errorCode = result?.errorCode ?? response.errorCode;
    const errorMessage = result === undefined ? response.errorMessage : result.errorMessage;
    if (errorCode !== ErrorCode.NONE) {
      failures += 1;
      return `Could not ${verb} ${update.feature}${suffix}. ${failureText(errorCode, errorMessage)}\n`;
    }
    return `${update.feature} ${command.dryRun ? 'can be' : 'was'} ${verb}d${suffix}.\n`;
  });
  return { text: lines.join(''), failures };
}

const failureText = (errorCode: number, message: string | null): string =>
  `${errorName(errorCode)}${message ? `: ${message}` : ''}`;

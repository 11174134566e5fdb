// Feature control (Kafka's FeatureControlManager, KIP-584): UpdateFeatures as FeatureLevelRecords.
// Each update is checked as Kafka checks it: the upgrade type is known, the level is not negative,
// this software supports the level (features.ts), a lower level needs a downgrade type and a higher
// one the upgrade type. Kafka's errors are INVALID_UPDATE_VERSION with its messages.
//
// All or nothing, as Kafka 4 does: the first update that fails is the answer for the whole request
// and no record is written; validateOnly checks and writes nothing. A safe and an unsafe downgrade
// are the same for every feature Gregor knows: in Kafka only metadata.version tells them apart
// (whether a downgrade may lose metadata), and Gregor supports no metadata.version level.
// Every node runs the same table, so unlike Kafka the controller does not ask each registered
// broker which levels it supports.

import type { ControllerBatch } from './controller-batch.js';
import { type ControllerError, ControllerErrorCode, controllerError } from './errors.js';
import { type SupportedFeature, supportedFeatureRange } from './features.js';

const errors = ControllerErrorCode;

/** Kafka's FeatureUpdate.UpgradeType codes (UpdateFeatures v1+ upgrade_type). */
export const FeatureUpgradeType = {
  UPGRADE: 1,
  SAFE_DOWNGRADE: 2,
  UNSAFE_DOWNGRADE: 3,
} as const;

export interface FeatureUpdate {
  readonly feature: string;
  readonly maxVersionLevel: number;
  /** A FeatureUpgradeType code; anything else is refused. */
  readonly upgradeType: number;
}

export interface UpdateFeaturesRequest {
  readonly updates: readonly FeatureUpdate[];
  readonly validateOnly: boolean;
}

export interface UpdateFeaturesResponse {
  /** The features whose finalized level changes (or would, with validateOnly), by name. */
  readonly changed: ReadonlyMap<string, number>;
}

/** At most this many updates in one request (Kafka's MAX_RECORDS_PER_USER_OP is 10000). */
export const featureUpdatesMax = 10_000;

export class FeatureControlManager {
  constructor(private readonly features: readonly SupportedFeature[]) {}

  /** The changes, or the error of the first update that fails (then nothing is changed). */
  updateFeatures(
    batch: ControllerBatch,
    request: UpdateFeaturesRequest,
  ): UpdateFeaturesResponse | ControllerError {
    if (request.updates.length > featureUpdatesMax) {
      return failure(errors.INVALID_REQUEST, `At most ${featureUpdatesMax} feature updates per request`);
    }
    const names = new Set<string>();
    const changed = new Map<string, number>();
    for (const update of request.updates) {
      if (update.feature === '') return failure(errors.INVALID_REQUEST, 'A feature name cannot be empty.');
      if (names.has(update.feature)) {
        return failure(errors.INVALID_REQUEST, `The feature ${update.feature} is updated more than once.`);
      }
      names.add(update.feature);
      const problem = this.updateProblem(batch, update);
      if (problem !== null) {
        return failure(
          errors.INVALID_UPDATE_VERSION,
          `Invalid update version ${update.maxVersionLevel} for feature ${update.feature}. ${problem}`,
        );
      }
      if (batch.delta.finalizedFeatureLevel(update.feature) !== update.maxVersionLevel) {
        changed.set(update.feature, update.maxVersionLevel);
      }
    }
    if (!request.validateOnly) {
      for (const [name, level] of changed) batch.add({ type: 'featureLevel', name, level });
    }
    return { changed };
  }

  private updateProblem(batch: ControllerBatch, update: FeatureUpdate): string | null {
    const { upgradeType, maxVersionLevel: level } = update;
    if (
      upgradeType !== FeatureUpgradeType.UPGRADE &&
      upgradeType !== FeatureUpgradeType.SAFE_DOWNGRADE &&
      upgradeType !== FeatureUpgradeType.UNSAFE_DOWNGRADE
    ) {
      return 'The controller does not support the given upgrade type.';
    }
    if (level < 0) return 'A feature version cannot be less than 0.';
    const range = supportedFeatureRange(this.features, update.feature);
    if (level < range.minLevel || level > range.maxLevel) {
      return range.maxLevel === 0
        ? 'Local controller does not support this feature.'
        : `Local controller only supports versions ${range.minLevel}-${range.maxLevel}.`;
    }
    const current = batch.delta.finalizedFeatureLevel(update.feature);
    if (level < current && upgradeType === FeatureUpgradeType.UPGRADE) {
      return "Can't downgrade the version of this feature without setting the upgrade type to either safe or unsafe downgrade.";
    }
    if (level > current && upgradeType !== FeatureUpgradeType.UPGRADE) {
      return "Can't downgrade to a newer version.";
    }
    return null;
  }
}

function failure(errorCode: number, errorMessage: string): ControllerError {
  return controllerError(errorCode, errorMessage);
}

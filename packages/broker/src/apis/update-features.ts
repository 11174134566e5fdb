// UpdateFeatures (key 57), versions 0-2 (KIP-584 finalized features, kafka-features.sh).
//   Request  => timeout_ms [feature_updates => feature max_version_level allow_downgrade(0)
//               upgrade_type(1+)] validate_only(1+)
//   Response => throttle_time_ms error_code error_message [results => feature error_code
//               error_message](0-1)
//
// As Kafka's ControllerApis.handleUpdateFeatures, reached from any broker: ALTER on the cluster or
// CLUSTER_AUTHORIZATION_FAILED; v0's allow_downgrade means a safe downgrade, otherwise an upgrade.
// The active controller checks every update (feature-control.ts) and records all of them or none.
// The answer is Kafka 4's UpdateFeaturesResponse.createWithErrors: the one error (or NONE) at the
// top level and, before v2, repeated in a result per feature named.

import { FeatureUpgradeType } from '@gregor/metadata';
import { type ApiKey, ErrorCode, type RequestBody, type ResponseInput } from '@gregor/protocol';
import type { RequestContext } from './api-handler.js';
import { AclOperation, authorizedOnCluster } from './authorization.js';
import { isFailure } from './broker-context.js';

type Key = typeof ApiKey.UpdateFeatures;

/** How long the controller may take to commit at most, in ms; the request's timeout_ms if lower. */
const controllerTimeoutMsMax = 60_000;

/** v2 answers with the top-level error only. */
const topLevelOnlyVersionMin = 2;

export async function handleUpdateFeatures(
  body: RequestBody<Key>,
  apiVersion: number,
  context: RequestContext,
): Promise<ResponseInput<Key>> {
  const answer = (errorCode: number, errorMessage: string | null): ResponseInput<Key> => ({
    throttleTimeMs: 0,
    errorCode,
    errorMessage,
    results:
      apiVersion >= topLevelOnlyVersionMin
        ? []
        : body.featureUpdates.map((update) => ({ feature: update.feature, errorCode, errorMessage })),
  });
  if (!authorizedOnCluster(context, AclOperation.ALTER)) {
    return answer(ErrorCode.CLUSTER_AUTHORIZATION_FAILED, 'Cluster authorization failed.');
  }
  const updates = body.featureUpdates.map((update) => ({
    feature: update.feature,
    maxVersionLevel: update.maxVersionLevel,
    upgradeType:
      apiVersion === 0
        ? update.allowDowngrade
          ? FeatureUpgradeType.SAFE_DOWNGRADE
          : FeatureUpgradeType.UPGRADE
        : update.upgradeType,
  }));
  const timeoutMs =
    body.timeoutMs > 0 ? Math.min(body.timeoutMs, controllerTimeoutMsMax) : controllerTimeoutMsMax;
  const outcome = await context.broker.controller.updateFeatures(
    { updates, validateOnly: body.validateOnly },
    { timeoutMs },
  );
  if (isFailure(outcome)) return answer(outcome.errorCode, outcome.errorMessage);
  if (!body.validateOnly) {
    context.broker.logger.info(
      { updates: updates.map((update) => `${update.feature}=${update.maxVersionLevel}`) },
      'features updated',
    );
  }
  return answer(ErrorCode.NONE, null);
}

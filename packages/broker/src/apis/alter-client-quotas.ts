// AlterClientQuotas (key 49), versions 0-1.
//   Request  => [entries => [entity => entity_type entity_name(nullable)]
//                           [ops => key value(float64) remove]] validate_only
//   Response => throttle_time_ms [entries => error_code error_message(nullable) [entity]]
//
// Needs ALTER_CONFIGS on the cluster (CLUSTER_AUTHORIZATION_FAILED for every entry otherwise). An ip
// entity's name must be an IP address (INVALID_REQUEST; the controller checks everything else, since
// pure code cannot parse addresses); the rest goes to the active controller, which checks each entry
// as Kafka does and stores the valid ones as ClientQuotaRecords, or only checks them with
// validate_only.

import { isIP } from 'node:net';
import { type ClientQuotaAlteration, QuotaEntityType } from '@gregor/metadata';
import { type ApiKey, ErrorCode, type RequestBody, type ResponseInput } from '@gregor/protocol';
import type { RequestContext } from './api-handler.js';
import { AclOperation, authorizedOnCluster } from './authorization.js';
import { isFailure } from './broker-context.js';

type Key = typeof ApiKey.AlterClientQuotas;
type Result = ResponseInput<Key>['entries'][number];

const controllerTimeoutMs = 30_000;

export async function handleAlterClientQuotas(
  body: RequestBody<Key>,
  _apiVersion: number,
  context: RequestContext,
): Promise<ResponseInput<Key>> {
  const answer = (errorCode: number, errorMessage: string | null, index: number): Result => ({
    errorCode,
    errorMessage,
    entity: body.entries[index]!.entity,
  });
  if (!authorizedOnCluster(context, AclOperation.ALTER_CONFIGS)) {
    return {
      throttleTimeMs: 0,
      entries: body.entries.map((_, index) =>
        answer(ErrorCode.CLUSTER_AUTHORIZATION_FAILED, 'Cluster authorization failed.', index),
      ),
    };
  }
  const results: (Result | undefined)[] = body.entries.map((entry, index) => {
    const badIp = entry.entity.find(
      (component) =>
        component.entityType === QuotaEntityType.IP &&
        component.entityName !== null &&
        isIP(component.entityName) === 0,
    );
    return badIp === undefined
      ? undefined
      : answer(ErrorCode.INVALID_REQUEST, `${badIp.entityName} is not a valid IP address`, index);
  });
  const forwarded: { index: number; alteration: ClientQuotaAlteration }[] = [];
  body.entries.forEach((entry, index) => {
    if (results[index] !== undefined) return;
    forwarded.push({
      index,
      alteration: {
        entity: entry.entity.map((c) => ({ entityType: c.entityType, entityName: c.entityName })),
        ops: entry.ops.map((op) => ({ key: op.key, value: op.remove ? null : op.value })),
      },
    });
  });
  if (forwarded.length > 0) {
    const outcome = await context.broker.controller.alterClientQuotas(
      { entries: forwarded.map((one) => one.alteration), validateOnly: body.validateOnly },
      { timeoutMs: controllerTimeoutMs },
    );
    forwarded.forEach(({ index }, position) => {
      if (isFailure(outcome)) {
        results[index] = answer(outcome.errorCode, outcome.errorMessage, index);
        return;
      }
      const result = outcome.results[position];
      results[index] =
        result === undefined
          ? answer(ErrorCode.UNKNOWN_SERVER_ERROR, 'the controller answered fewer entries', index)
          : answer(result.errorCode, result.errorMessage, index);
    });
  }
  return { throttleTimeMs: 0, entries: results.map((result) => result!) };
}

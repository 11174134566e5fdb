// UnregisterBroker (key 64), version 0.
//   Request  => broker_id
//   Response => throttle_time_ms error_code error_message(nullable)
//
// As Kafka's ControllerApis.handleUnregisterBroker, reached from any broker (Kafka's brokers
// forward it to the controller): ALTER on the cluster or CLUSTER_AUTHORIZATION_FAILED; then the
// controller removes the registration through the metadata log, BROKER_ID_NOT_REGISTERED for an id
// without one. Kafka does not refuse an active broker: it leaves its ISRs and leaderships first,
// and a broker still running registers again at its next heartbeat.

import { type ApiKey, ErrorCode, type RequestBody, type ResponseInput } from '@gregor/protocol';
import type { RequestContext } from './api-handler.js';
import { AclOperation, authorizedOnCluster } from './authorization.js';
import { isFailure } from './broker-context.js';

type Key = typeof ApiKey.UnregisterBroker;

/** How long the controller has to commit the unregistration, in ms. */
const controllerTimeoutMs = 30_000;

export async function handleUnregisterBroker(
  body: RequestBody<Key>,
  _apiVersion: number,
  context: RequestContext,
): Promise<ResponseInput<Key>> {
  if (!authorizedOnCluster(context, AclOperation.ALTER)) {
    return {
      throttleTimeMs: 0,
      errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED,
      errorMessage: 'Cluster authorization failed.',
    };
  }
  const outcome = await context.broker.controller.unregisterBroker(body.brokerId, {
    timeoutMs: controllerTimeoutMs,
  });
  if (isFailure(outcome)) {
    return { throttleTimeMs: 0, errorCode: outcome.errorCode, errorMessage: outcome.errorMessage };
  }
  context.broker.logger.info({ brokerId: body.brokerId }, 'broker unregistered');
  return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null };
}

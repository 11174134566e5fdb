// CreateDelegationToken (key 38), versions 1-3.
//   Request  => owner_principal_type(v3+) owner_principal_name(v3+) [renewers => type name] max_lifetime_ms
//   Response => error_code principal_type principal_name token_requester_principal_type(v3+)
//               token_requester_principal_name(v3+) issue_timestamp_ms expiry_timestamp_ms
//               max_timestamp_ms token_id hmac throttle_time_ms
//
// As Kafka's KafkaApis.handleCreateTokenRequest: the requester must be allowed token requests
// (delegation-token-access.ts); a token for another owner (v3, KIP-373) needs CreateTokens on that
// owner's USER resource (DELEGATION_TOKEN_AUTHORIZATION_FAILED); renewers (and, unlike Kafka, the
// owner) must be `User` principals (INVALID_PRINCIPAL_TYPE). The broker picks the token id; the
// controller sets the times from its delegation.token.* config and stores the token.

import { type ApiKey, ErrorCode, type RequestBody, type ResponseInput } from '@gregor/protocol';
import { delegationTokenHmac, newDelegationTokenId } from '../security/delegation-tokens.js';
import { formatPrincipal, type KafkaPrincipal } from '../security/kafka-principal.js';
import type { RequestContext } from './api-handler.js';
import { AclOperation, AclResourceType, authorized } from './authorization.js';
import { isFailure } from './broker-context.js';
import { tokenRequester } from './delegation-token-access.js';

type Key = typeof ApiKey.CreateDelegationToken;

const controllerTimeoutMs = 30_000;
const userPrincipalType = 'User';

/** The requester, which the response carries from v3 (KIP-373). */
function requesterFields(apiVersion: number, requester: KafkaPrincipal | undefined) {
  return apiVersion < 3
    ? {}
    : {
        tokenRequesterPrincipalType: requester?.principalType ?? '',
        tokenRequesterPrincipalName: requester?.name ?? '',
      };
}

export async function handleCreateDelegationToken(
  body: RequestBody<Key>,
  apiVersion: number,
  context: RequestContext,
): Promise<ResponseInput<Key>> {
  const requester = context.connection.session?.principal;
  const owner: KafkaPrincipal | undefined =
    body.ownerPrincipalName === null || body.ownerPrincipalName === ''
      ? requester
      : { principalType: body.ownerPrincipalType ?? userPrincipalType, name: body.ownerPrincipalName };
  const refuse = (errorCode: number): ResponseInput<Key> => ({
    errorCode,
    principalType: owner?.principalType ?? '',
    principalName: owner?.name ?? '',
    ...requesterFields(apiVersion, requester),
    issueTimestampMs: -1,
    expiryTimestampMs: -1,
    maxTimestampMs: -1,
    tokenId: '',
    hmac: Buffer.alloc(0),
    throttleTimeMs: 0,
  });
  const access = tokenRequester(context);
  if (!access.ok || owner === undefined) {
    return refuse(access.ok ? ErrorCode.DELEGATION_TOKEN_REQUEST_NOT_ALLOWED : access.errorCode);
  }
  const ownerText = formatPrincipal(owner);
  const requesterText = formatPrincipal(access.principal);
  if (
    ownerText !== requesterText &&
    !authorized(context, AclOperation.CREATE_TOKENS, AclResourceType.USER, ownerText)
  ) {
    return refuse(ErrorCode.DELEGATION_TOKEN_AUTHORIZATION_FAILED);
  }
  if (
    owner.principalType !== userPrincipalType ||
    body.renewers.some((renewer) => renewer.principalType !== userPrincipalType)
  ) {
    return refuse(ErrorCode.INVALID_PRINCIPAL_TYPE);
  }
  const outcome = await context.broker.controller.createDelegationToken(
    {
      tokenId: newDelegationTokenId(),
      owner: ownerText,
      requester: requesterText,
      renewers: body.renewers.map((renewer) => `${renewer.principalType}:${renewer.principalName}`),
      maxLifetimeMs: Number(body.maxLifetimeMs),
    },
    { timeoutMs: controllerTimeoutMs },
  );
  if (isFailure(outcome)) return refuse(outcome.errorCode);
  const { token } = outcome;
  return {
    errorCode: ErrorCode.NONE,
    principalType: owner.principalType,
    principalName: owner.name,
    ...requesterFields(apiVersion, access.principal),
    issueTimestampMs: token.issueTimestampMs,
    expiryTimestampMs: token.expirationTimestampMs,
    maxTimestampMs: token.maxTimestampMs,
    tokenId: token.tokenId,
    hmac: delegationTokenHmac(access.secretKey, token.tokenId),
    throttleTimeMs: 0,
  };
}

// DescribeDelegationToken (key 41), versions 1-3.
//   Request  => [owners => principal_type principal_name](nullable: every token)
//   Response => error_code [tokens => principal_type principal_name token_requester_principal_type(v3+)
//               token_requester_principal_name(v3+) issue_timestamp expiry_timestamp max_timestamp
//               token_id hmac [renewers => principal_type principal_name]] throttle_time_ms
//
// Answered from this broker's image, as Kafka's DelegationTokenManager.filterToken: an empty owners
// list names no token; a token is listed when (with owners given) one of them is its owner,
// requester or a renewer, and the requester is its owner, requester or a renewer, or may Describe
// the DELEGATION_TOKEN resource of its id, or has DescribeTokens on its owner's USER resource
// (KIP-373). Expired tokens the controller has not removed yet are listed too, as in Kafka.

import { type DelegationTokenState, isTokenOwnerOrRenewer } from '@gregor/metadata';
import { type ApiKey, ErrorCode, type RequestBody, type ResponseInput } from '@gregor/protocol';
import { delegationTokenHmac, parsePrincipal } from '../security/delegation-tokens.js';
import { formatPrincipal } from '../security/kafka-principal.js';
import type { RequestContext } from './api-handler.js';
import { AclOperation, AclResourceType, authorized } from './authorization.js';
import { tokenRequester } from './delegation-token-access.js';

type Key = typeof ApiKey.DescribeDelegationToken;

export async function handleDescribeDelegationToken(
  body: RequestBody<Key>,
  apiVersion: number,
  context: RequestContext,
): Promise<ResponseInput<Key>> {
  const access = tokenRequester(context);
  if (!access.ok) return { errorCode: access.errorCode, tokens: [], throttleTimeMs: 0 };
  const owners = body.owners?.map((owner) => `${owner.principalType}:${owner.principalName}`) ?? null;
  const requester = formatPrincipal(access.principal);
  const visible = (token: DelegationTokenState): boolean => {
    if (owners !== null && !owners.some((owner) => isTokenOwnerOrRenewer(token, owner))) return false;
    return (
      isTokenOwnerOrRenewer(token, requester) ||
      authorized(context, AclOperation.DESCRIBE, AclResourceType.DELEGATION_TOKEN, token.tokenId) ||
      authorized(context, AclOperation.DESCRIBE_TOKENS, AclResourceType.USER, token.owner)
    );
  };
  const tokens =
    owners !== null && owners.length === 0
      ? []
      : [...context.broker.metadata.image().delegationTokens.values()].filter(visible);
  return {
    errorCode: ErrorCode.NONE,
    tokens: tokens.map((token) => {
      const owner = parsePrincipal(token.owner);
      const tokenRequesterPrincipal = parsePrincipal(token.requester);
      return {
        principalType: owner.principalType,
        principalName: owner.name,
        // The requester is in the response from v3 (KIP-373).
        ...(apiVersion < 3
          ? {}
          : {
              tokenRequesterPrincipalType: tokenRequesterPrincipal.principalType,
              tokenRequesterPrincipalName: tokenRequesterPrincipal.name,
            }),
        issueTimestamp: token.issueTimestampMs,
        expiryTimestamp: token.expirationTimestampMs,
        maxTimestamp: token.maxTimestampMs,
        tokenId: token.tokenId,
        hmac: delegationTokenHmac(access.secretKey, token.tokenId),
        renewers: token.renewers.map((renewer) => {
          const principal = parsePrincipal(renewer);
          return { principalType: principal.principalType, principalName: principal.name };
        }),
      };
    }),
    throttleTimeMs: 0,
  };
}

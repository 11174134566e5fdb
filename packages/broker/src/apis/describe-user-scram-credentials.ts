// DescribeUserScramCredentials (key 50), version 0.
//   Request  => [users => name](nullable)
//   Response => throttle_time_ms error_code error_message
//               [results => user error_code error_message [credential_infos => mechanism iterations]]
//
// From this broker's metadata image: each user's mechanisms and iteration counts, never the salt
// or keys. Null users: every user with a credential. A named user without one is
// RESOURCE_NOT_FOUND; a name asked twice is DUPLICATE_RESOURCE, as in Kafka.

import { type ApiKey, ErrorCode, type RequestBody, type ResponseInput } from '@gregor/protocol';
import type { RequestContext } from './api-handler.js';
import { AclOperation, authorizedOnCluster } from './authorization.js';

type Key = typeof ApiKey.DescribeUserScramCredentials;
type Result = ResponseInput<Key>['results'][number];

export async function handleDescribeUserScramCredentials(
  body: RequestBody<Key>,
  _apiVersion: number,
  context: RequestContext,
): Promise<ResponseInput<Key>> {
  if (!authorizedOnCluster(context, AclOperation.DESCRIBE)) {
    return {
      throttleTimeMs: 0,
      errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED,
      errorMessage: 'Cluster authorization failed.',
      results: [],
    };
  }
  const image = context.broker.metadata.image();
  const describe = (user: string): Result => {
    const credentials = image.userScramCredentials(user);
    if (credentials.size === 0) {
      return {
        user,
        errorCode: ErrorCode.RESOURCE_NOT_FOUND,
        errorMessage: 'Attempt to describe a user credential that does not exist',
        credentialInfos: [],
      };
    }
    return {
      user,
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      credentialInfos: [...credentials]
        .sort(([a], [b]) => a - b)
        .map(([mechanism, credential]) => ({ mechanism, iterations: credential.iterations })),
    };
  };
  const names =
    body.users === null ? [...image.scramCredentials.keys()].sort() : body.users.map((user) => user.name);
  const counts = new Map<string, number>();
  for (const name of names) counts.set(name, (counts.get(name) ?? 0) + 1);
  const results = [...new Set(names)].map((name) =>
    counts.get(name)! > 1
      ? {
          user: name,
          errorCode: ErrorCode.DUPLICATE_RESOURCE,
          errorMessage: 'Cannot describe SCRAM credentials for the same user twice in a single request',
          credentialInfos: [],
        }
      : describe(name),
  );
  return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, results };
}

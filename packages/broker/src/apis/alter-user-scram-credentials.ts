// AlterUserScramCredentials (key 51), version 0.
//   Request  => [deletions => name mechanism] [upsertions => name mechanism iterations salt salted_password]
//   Response => throttle_time_ms [results => user_name error_code error_message(nullable)]
//
// Checked here as Kafka checks them (a mechanism it knows: UNSUPPORTED_SASL_MECHANISM; iterations
// within 4096..16384 and a non-empty salt and name: UNACCEPTABLE_CREDENTIAL), each upsertion's
// StoredKey and ServerKey derived from the salted password, then all sent to the active
// controller, which stores them in the metadata log. A user with any refused operation has none of
// its operations applied.

import type { ScramCredentialDeletion, ScramCredentialUpsertion } from '@gregor/metadata';
import { type ApiKey, ErrorCode, type RequestBody, type ResponseInput } from '@gregor/protocol';
import {
  scramCredential,
  scramIterationsMax,
  scramIterationsMin,
  scramMechanismOfType,
} from '../security/scram.js';
import type { RequestContext } from './api-handler.js';
import { AclOperation, authorizedOnCluster } from './authorization.js';
import { isFailure } from './broker-context.js';

type Key = typeof ApiKey.AlterUserScramCredentials;
type Result = ResponseInput<Key>['results'][number];

const controllerTimeoutMs = 30_000;

export async function handleAlterUserScramCredentials(
  body: RequestBody<Key>,
  _apiVersion: number,
  context: RequestContext,
): Promise<ResponseInput<Key>> {
  const users: string[] = [];
  const refused = new Map<string, Result>();
  if (!authorizedOnCluster(context, AclOperation.ALTER)) {
    const names = [...new Set([...body.deletions, ...body.upsertions].map((entry) => entry.name))];
    return {
      throttleTimeMs: 0,
      results: names.map((userName) => ({
        userName,
        errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED,
        errorMessage: 'Cluster authorization failed.',
      })),
    };
  }
  const refuse = (userName: string, errorCode: number, errorMessage: string) => {
    if (!refused.has(userName)) refused.set(userName, { userName, errorCode, errorMessage });
  };
  const deletions: ScramCredentialDeletion[] = [];
  const upsertions: ScramCredentialUpsertion[] = [];
  for (const deletion of body.deletions) {
    if (!users.includes(deletion.name)) users.push(deletion.name);
    if (scramMechanismOfType(deletion.mechanism) === undefined) {
      refuse(deletion.name, ErrorCode.UNSUPPORTED_SASL_MECHANISM, 'Unknown SCRAM mechanism');
    }
    deletions.push({ name: deletion.name, mechanism: deletion.mechanism });
  }
  for (const upsertion of body.upsertions) {
    if (!users.includes(upsertion.name)) users.push(upsertion.name);
    const mechanism = scramMechanismOfType(upsertion.mechanism);
    if (mechanism === undefined) {
      refuse(upsertion.name, ErrorCode.UNSUPPORTED_SASL_MECHANISM, 'Unknown SCRAM mechanism');
      continue;
    }
    if (upsertion.iterations < scramIterationsMin) {
      refuse(upsertion.name, ErrorCode.UNACCEPTABLE_CREDENTIAL, 'Too few iterations');
      continue;
    }
    if (upsertion.iterations > scramIterationsMax) {
      refuse(upsertion.name, ErrorCode.UNACCEPTABLE_CREDENTIAL, 'Too many iterations');
      continue;
    }
    if (upsertion.salt.length === 0 || upsertion.saltedPassword.length === 0) {
      refuse(upsertion.name, ErrorCode.UNACCEPTABLE_CREDENTIAL, 'Salt and salted password must not be empty');
      continue;
    }
    const credential = scramCredential(
      mechanism,
      Buffer.from(upsertion.salt),
      Buffer.from(upsertion.saltedPassword),
      upsertion.iterations,
    );
    upsertions.push({ name: upsertion.name, mechanism: mechanism.type, ...credential });
  }
  const forwarded = {
    deletions: deletions.filter((deletion) => !refused.has(deletion.name)),
    upsertions: upsertions.filter((upsertion) => !refused.has(upsertion.name)),
  };
  const fromController = new Map<string, Result>();
  if (forwarded.deletions.length + forwarded.upsertions.length > 0) {
    const outcome = await context.broker.controller.alterUserScramCredentials(forwarded, {
      timeoutMs: controllerTimeoutMs,
    });
    if (isFailure(outcome)) {
      for (const user of users) if (!refused.has(user)) refuse(user, outcome.errorCode, outcome.errorMessage);
    } else {
      for (const result of outcome.results) {
        fromController.set(result.user, {
          userName: result.user,
          errorCode: result.errorCode,
          errorMessage: result.errorMessage,
        });
      }
    }
  }
  return {
    throttleTimeMs: 0,
    results: users.map(
      (userName) =>
        refused.get(userName) ??
        fromController.get(userName) ?? { userName, errorCode: ErrorCode.NONE, errorMessage: null },
    ),
  };
}

// SCRAM credential control (Kafka's ScramControlManager): AlterUserScramCredentials as records.
// The broker has already salted and keyed each upsertion (StoredKey, ServerKey: hashing is I/O-free
// but lives outside pure code); here they are checked against the image and each other, and turned
// into UserScramCredentialRecord / RemoveUserScramCredentialRecord. Results are per user, in the
// order users first appear; a user with any refused operation has none of its operations applied,
// as in Kafka.

import type { ControllerBatch } from './controller-batch.js';
import { ControllerErrorCode } from './errors.js';
import type { MetadataImage } from './image.js';

const errors = ControllerErrorCode;

/** Kafka's bounds on a SCRAM credential's iteration count (ScramMechanism's min and max). */
export const scramIterationsMin = 4096;
export const scramIterationsMax = 16384;
/** The StoredKey and ServerKey length of each mechanism type: its digest's size. */
const scramKeyBytesByMechanism: ReadonlyMap<number, number> = new Map([
  [1, 32], // SCRAM-SHA-256
  [2, 64], // SCRAM-SHA-512
]);

export interface ScramCredentialDeletion {
  readonly name: string;
  readonly mechanism: number;
}

export interface ScramCredentialUpsertion {
  readonly name: string;
  readonly mechanism: number;
  readonly iterations: number;
  readonly salt: Buffer;
  readonly storedKey: Buffer;
  readonly serverKey: Buffer;
}

export interface AlterUserScramCredentialsRequest {
  readonly deletions: readonly ScramCredentialDeletion[];
  readonly upsertions: readonly ScramCredentialUpsertion[];
}

export interface UserScramResult {
  readonly user: string;
  readonly errorCode: number;
  readonly errorMessage: string | null;
}

export interface AlterUserScramCredentialsResponse {
  readonly results: readonly UserScramResult[];
}

export class ScramControlManager {
  constructor(private readonly image: () => MetadataImage) {}

  alterUserScramCredentials(
    batch: ControllerBatch,
    request: AlterUserScramCredentialsRequest,
  ): AlterUserScramCredentialsResponse {
    const users: string[] = [];
    const refused = new Map<string, UserScramResult>();
    const refuse = (user: string, errorCode: number, errorMessage: string) => {
      if (!refused.has(user)) refused.set(user, { user, errorCode, errorMessage });
    };
    const seen = new Set<string>();
    const operations = [
      ...request.deletions.map((deletion) => ({ ...deletion, upsertion: undefined })),
      ...request.upsertions.map((upsertion) => ({ ...upsertion, upsertion })),
    ];
    for (const operation of operations) {
      if (!users.includes(operation.name)) users.push(operation.name);
      const key = `${operation.mechanism}:${operation.name}`;
      if (seen.has(key)) {
        refuse(
          operation.name,
          errors.DUPLICATE_RESOURCE,
          'A user credential cannot be altered twice in the same request',
        );
      }
      seen.add(key);
      if (operation.name === '')
        refuse(operation.name, errors.UNACCEPTABLE_CREDENTIAL, 'Username must not be empty');
      // Checked here too, not only by the Kafka API handler: any node may send this over gRPC, and a
      // record the image refuses would stop every node that replays it.
      const keyBytes = scramKeyBytesByMechanism.get(operation.mechanism);
      if (keyBytes === undefined) {
        refuse(operation.name, errors.UNSUPPORTED_SASL_MECHANISM, 'Unknown SCRAM mechanism');
      } else if (operation.upsertion !== undefined) {
        const { iterations, salt, storedKey, serverKey } = operation.upsertion;
        if (!Number.isInteger(iterations) || iterations < scramIterationsMin)
          refuse(operation.name, errors.UNACCEPTABLE_CREDENTIAL, 'Too few iterations');
        else if (iterations > scramIterationsMax)
          refuse(operation.name, errors.UNACCEPTABLE_CREDENTIAL, 'Too many iterations');
        else if (salt.length === 0)
          refuse(operation.name, errors.UNACCEPTABLE_CREDENTIAL, 'Salt must not be empty');
        else if (storedKey.length !== keyBytes || serverKey.length !== keyBytes)
          refuse(
            operation.name,
            errors.UNACCEPTABLE_CREDENTIAL,
            `StoredKey and ServerKey must be ${keyBytes} bytes for this mechanism`,
          );
      }
      if (
        operation.upsertion === undefined &&
        !this.image().userScramCredentials(operation.name).has(operation.mechanism)
      ) {
        refuse(
          operation.name,
          errors.RESOURCE_NOT_FOUND,
          'Attempt to delete a user credential that does not exist',
        );
      }
    }
    for (const operation of operations) {
      if (refused.has(operation.name)) continue;
      batch.add(
        operation.upsertion === undefined
          ? { type: 'removeUserScramCredential', name: operation.name, mechanism: operation.mechanism }
          : {
              type: 'userScramCredential',
              name: operation.name,
              mechanism: operation.mechanism,
              salt: operation.upsertion.salt,
              storedKey: operation.upsertion.storedKey,
              serverKey: operation.upsertion.serverKey,
              iterations: operation.upsertion.iterations,
            },
      );
    }
    return {
      results: users.map((user) => refused.get(user) ?? { user, errorCode: errors.NONE, errorMessage: null }),
    };
  }
}

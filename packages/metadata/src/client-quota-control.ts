// Client quota control (Kafka's ClientQuotaControlManager): AlterClientQuotas as ClientQuotaRecords.
// Each entry is checked on its own (the entity, then every key and value) and refused whole with
// INVALID_REQUEST, or turned into one record per key that changes; validateOnly checks and writes
// nothing. Checked here, not only by the Kafka API handler: any node may send this over gRPC, and a
// record the image refuses would stop every node that replays it.

import {
  canonicalQuotaEntity,
  type QuotaEntity,
  quotaEntityKey,
  quotaEntityProblem,
  quotaValueProblem,
} from './client-quotas.js';
import type { ControllerBatch } from './controller-batch.js';
import { ControllerErrorCode } from './errors.js';

const errors = ControllerErrorCode;

export interface ClientQuotaOperation {
  readonly key: string;
  /** null: remove the key. */
  readonly value: number | null;
}

export interface ClientQuotaAlteration {
  readonly entity: QuotaEntity;
  readonly ops: readonly ClientQuotaOperation[];
}

export interface AlterClientQuotasRequest {
  readonly entries: readonly ClientQuotaAlteration[];
  readonly validateOnly: boolean;
}

export interface ClientQuotaAlterationResult {
  readonly errorCode: number;
  readonly errorMessage: string | null;
}

export interface AlterClientQuotasResponse {
  /** One per entry, in request order. */
  readonly results: readonly ClientQuotaAlterationResult[];
}

export class ClientQuotaControlManager {
  alterClientQuotas(batch: ControllerBatch, request: AlterClientQuotasRequest): AlterClientQuotasResponse {
    const results = request.entries.map((entry): ClientQuotaAlterationResult => {
      const problem = alterationProblem(entry);
      if (problem !== null) return { errorCode: errors.INVALID_REQUEST, errorMessage: problem };
      if (request.validateOnly) return { errorCode: errors.NONE, errorMessage: null };
      const entity = canonicalQuotaEntity(entry.entity);
      const key = quotaEntityKey(entity);
      for (const op of entry.ops) {
        // Read through the batch: an earlier entry of this request may have changed the same entity.
        const current = batch.delta.clientQuota(key)?.values.get(op.key);
        if (op.value === null && current === undefined) continue;
        if (op.value !== null && current === op.value) continue;
        batch.add({ type: 'clientQuota', entity, key: op.key, value: op.value });
      }
      return { errorCode: errors.NONE, errorMessage: null };
    });
    return { results };
  }
}

function alterationProblem(entry: ClientQuotaAlteration): string | null {
  const entityProblem = quotaEntityProblem(entry.entity);
  if (entityProblem !== null) return entityProblem;
  const keys = new Set<string>();
  for (const op of entry.ops) {
    if (keys.has(op.key)) return `Duplicate quota key ${op.key} for one entity`;
    keys.add(op.key);
    const valueProblem = quotaValueProblem(entry.entity, op.key, op.value ?? 0);
    if (valueProblem !== null) return valueProblem;
  }
  return null;
}

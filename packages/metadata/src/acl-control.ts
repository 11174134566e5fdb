// ACL control (Kafka's AclControlManager): CreateAcls and DeleteAcls as AccessControlEntryRecord and
// RemoveAccessControlEntryRecord. Each new binding gets a random id; creating a binding that
// exists already succeeds without a record, as with Kafka's StandardAuthorizer.

import type { Random } from '@gregor/ground';
import {
  type AclBinding,
  type AclBindingFilter,
  aclBindingProblem,
  aclFilterMatches,
  aclFilterProblem,
  sameAclBinding,
} from './acls.js';
import type { ControllerBatch } from './controller-batch.js';
import { ControllerErrorCode } from './errors.js';
import type { MetadataImage } from './image.js';
import { randomUuid } from './uuid.js';

const errors = ControllerErrorCode;

export interface AclResult {
  readonly errorCode: number;
  readonly errorMessage: string | null;
}

export interface CreateAclsResponse {
  readonly results: readonly AclResult[];
}

export interface DeleteAclsFilterResult extends AclResult {
  readonly deleted: readonly AclBinding[];
}

export interface DeleteAclsResponse {
  readonly results: readonly DeleteAclsFilterResult[];
}

export class AclControlManager {
  constructor(
    private readonly image: () => MetadataImage,
    private readonly random: Random,
  ) {}

  createAcls(batch: ControllerBatch, bindings: readonly AclBinding[]): CreateAclsResponse {
    const results = bindings.map((binding): AclResult => {
      const problem = aclBindingProblem(binding);
      if (problem !== null) return { errorCode: errors.INVALID_REQUEST, errorMessage: problem };
      const existing = [...this.image().acls.values(), ...this.pending(batch)];
      if (existing.some((other) => sameAclBinding(other, binding)))
        return { errorCode: errors.NONE, errorMessage: null };
      let id = randomUuid(this.random);
      while (this.image().acls.has(id)) id = randomUuid(this.random);
      batch.add({ type: 'accessControlEntry', id, ...binding });
      return { errorCode: errors.NONE, errorMessage: null };
    });
    return { results };
  }

  deleteAcls(batch: ControllerBatch, filters: readonly AclBindingFilter[]): DeleteAclsResponse {
    const removed = new Set<string>();
    const results = filters.map((filter): DeleteAclsFilterResult => {
      const problem = aclFilterProblem(filter);
      if (problem !== null) return { errorCode: errors.INVALID_REQUEST, errorMessage: problem, deleted: [] };
      const deleted: AclBinding[] = [];
      for (const [id, binding] of this.image().acls) {
        if (removed.has(id) || !aclFilterMatches(filter, binding)) continue;
        removed.add(id);
        deleted.push(binding);
        batch.add({ type: 'removeAccessControlEntry', id });
      }
      return { errorCode: errors.NONE, errorMessage: null, deleted };
    });
    return { results };
  }

  /** Bindings this batch adds before the one being checked (a request may repeat a binding). */
  private pending(batch: ControllerBatch): AclBinding[] {
    return batch.records.flatMap((record) => {
      if (record.type !== 'accessControlEntry') return [];
      const { type: _type, id: _id, ...binding } = record;
      return [binding];
    });
  }
}

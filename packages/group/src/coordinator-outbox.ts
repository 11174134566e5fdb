// What one coordinator call hands back, collected in order: responses to requests (each request id
// answered exactly once) and appends to `__consumer_offsets`; plus the groups the call touched, whose
// invariants are checked before the effects leave. Shared by the managers of one GroupCoordinator.

import { invariant } from '@gregor/ground';
import type { Group } from './group.js';
import type { GroupEffect, GroupResponse, RequestId } from './messages.js';

const emptyBytes = Buffer.alloc(0);

export class CoordinatorOutbox {
  private effects: GroupEffect[] = [];
  /** Requests received and not yet answered: each id is answered exactly once. */
  private readonly inflightRequestIds = new Set<RequestId>();
  /** Groups changed by the current call; their invariants are checked when it ends. */
  readonly touched = new Set<Group>();

  receive(requestId: RequestId): void {
    invariant(!this.inflightRequestIds.has(requestId), () => `request id ${requestId} is already in flight`);
    this.inflightRequestIds.add(requestId);
  }

  respond(requestId: RequestId, response: GroupResponse): void {
    invariant(
      this.inflightRequestIds.delete(requestId),
      () => `request ${requestId} answered twice or never received`,
    );
    this.effects.push({ kind: 'respond', requestId, response });
  }

  respondSyncError(requestId: RequestId, errorCode: number): void {
    this.respond(requestId, {
      api: 'SyncGroup',
      errorCode,
      protocolType: '',
      protocolName: '',
      assignment: emptyBytes,
    });
  }

  /** Rewrites the response already given to `requestId` in this call (a coordinator composing two managers' answers). */
  amendResponse(requestId: RequestId, amend: (response: GroupResponse) => GroupResponse): void {
    const index = this.effects.findIndex((e) => e.kind === 'respond' && e.requestId === requestId);
    invariant(index >= 0, () => `no response to amend for request ${requestId}`);
    const effect = this.effects[index]!;
    invariant(effect.kind === 'respond', 'found a response');
    this.effects[index] = { ...effect, response: amend(effect.response) };
  }

  push(effect: GroupEffect): void {
    this.effects.push(effect);
  }

  touch(group: Group): void {
    this.touched.add(group);
  }

  /** The effects so far, in order; the outbox starts empty again. */
  drain(): GroupEffect[] {
    const effects = this.effects;
    this.discard();
    return effects;
  }

  /** Forgets the effects and touched groups of a call that threw (a bug: nothing of it is trusted). */
  discard(): void {
    this.effects = [];
    this.touched.clear();
  }

  get inflightRequestCount(): number {
    return this.inflightRequestIds.size;
  }
}

// Leader and ISR decisions for one partition, as pure functions of its state and of which brokers
// are active (registered, unfenced, not shutting down). The controller turns them into records.

import type { PartitionState } from './image.js';
import { type BrokerId, noLeader, type PartitionChangeRecord, type TopicId } from './records.js';

export interface LeaderAndIsr {
  readonly leader: BrokerId;
  readonly isr: readonly BrokerId[];
}

export type IsActive = (brokerId: BrokerId) => boolean;

/**
 * Keeps a live leader that is still in `isr`; else the first replica (in preference order) that is
 * in `isr` and active; else, if unclean election is allowed, the first active replica with an ISR of
 * just itself (it may lack acknowledged records: that is what "unclean" means); else no leader.
 */
export function electLeader(
  current: PartitionState,
  isr: readonly BrokerId[],
  isActive: IsActive,
  uncleanAllowed: boolean,
): LeaderAndIsr {
  if (current.leader !== noLeader && isr.includes(current.leader) && isActive(current.leader)) {
    return { leader: current.leader, isr };
  }
  const clean = current.replicas.find((id) => isr.includes(id) && isActive(id));
  if (clean !== undefined) return { leader: clean, isr };
  if (uncleanAllowed) {
    const unclean = current.replicas.find(isActive);
    if (unclean !== undefined) return { leader: unclean, isr: [unclean] };
  }
  return { leader: noLeader, isr };
}

/**
 * After `brokerId` stopped being active: drop it from the ISR and, if it led, elect another leader.
 * The ISR never becomes empty (Kafka without ELR): a last member stays, so that the partition,
 * offline with leader -1, can be led again by the one replica sure to hold every acknowledged record.
 */
export function removeBroker(
  current: PartitionState,
  brokerId: BrokerId,
  isActive: IsActive,
  uncleanAllowed: boolean,
): LeaderAndIsr {
  const shrunk = current.isr.filter((id) => id !== brokerId);
  return electLeader(current, shrunk.length > 0 ? shrunk : current.isr, isActive, uncleanAllowed);
}

export type PreferredElection =
  | { readonly outcome: 'elected'; readonly leader: BrokerId }
  | { readonly outcome: 'notNeeded' | 'notAvailable' };

/** Moves leadership to the first replica if it is active and in the ISR. */
export function electPreferredLeader(current: PartitionState, isActive: IsActive): PreferredElection {
  const preferred = current.replicas[0]!;
  if (current.leader === preferred) return { outcome: 'notNeeded' };
  if (!current.isr.includes(preferred) || !isActive(preferred)) return { outcome: 'notAvailable' };
  return { outcome: 'elected', leader: preferred };
}

function sameMembers(a: readonly BrokerId[], b: readonly BrokerId[]): boolean {
  return a.length === b.length && a.every((id) => b.includes(id));
}

/** The change record taking `current` to `next`, or null if nothing changes. */
export function partitionChange(
  topicId: TopicId,
  partitionIndex: number,
  current: PartitionState,
  next: LeaderAndIsr,
): PartitionChangeRecord | null {
  const leader = next.leader === current.leader ? null : next.leader;
  const isr = sameMembers(next.isr, current.isr) ? null : [...next.isr];
  if (leader === null && isr === null) return null;
  return { type: 'partitionChange', topicId, partitionIndex, leader, isr };
}

// ISR shrinks and expands of the partitions a broker leads, read from two consecutive metadata
// images (Kafka's IsrShrinksPerSec / IsrExpandsPerSec). Reading the committed metadata rather than
// hooking the replica manager's AlterPartition counts every change that took effect, including the
// controller removing a fenced broker from the ISR (which Kafka's leader-side meter misses).
//
// Pure. Images share unchanged topics, so only topics whose object changed are compared.

import type { MetadataImage } from '@gregor/metadata';

export interface IsrChangeCounts {
  readonly shrinks: number;
  readonly expands: number;
}

/** Partitions `brokerId` leads in both images whose ISR got smaller (shrinks) or larger (expands). */
export function isrChanges(previous: MetadataImage, next: MetadataImage, brokerId: number): IsrChangeCounts {
  let shrinks = 0;
  let expands = 0;
  if (previous.topics === next.topics) return { shrinks, expands };
  for (const [name, topic] of next.topics) {
    const before = previous.topics.get(name);
    if (before === undefined || before === topic || before.topicId !== topic.topicId) continue;
    const shared = Math.min(before.partitions.length, topic.partitions.length);
    for (let index = 0; index < shared; index++) {
      const now = topic.partitions[index]!;
      const then = before.partitions[index]!;
      if (now === then || now.leader !== brokerId || then.leader !== brokerId) continue;
      if (now.isr.length < then.isr.length) shrinks++;
      else if (now.isr.length > then.isr.length) expands++;
    }
  }
  return { shrinks, expands };
}

import type { SeededRandom } from '@gregor/ground';
import type { SimScheduler } from './scheduler.js';

/** Fault settings of the simulated network; changed by the fault injector while a run goes on. */
export interface NetworkFaults {
  dropProbability: number;
  duplicateProbability: number;
  /** Each message is delayed uniformly in [delayMinMs, delayMaxMs): different delays reorder messages. */
  delayMinMs: number;
  delayMaxMs: number;
  /** With this probability a message is delayed by up to delaySpikeMaxMs instead. */
  delaySpikeProbability: number;
  delaySpikeMaxMs: number;
}

export const HEALTHY_NETWORK: Readonly<NetworkFaults> = Object.freeze({
  dropProbability: 0,
  duplicateProbability: 0,
  delayMinMs: 1,
  delayMaxMs: 5,
  delaySpikeProbability: 0,
  delaySpikeMaxMs: 0,
});

/**
 * A network between numbered nodes that drops, delays, duplicates and reorders messages and can be
 * partitioned. A partition cuts messages already in flight too: delivery checks the link again.
 */
export class SimNetwork<M> {
  faults: NetworkFaults = { ...HEALTHY_NETWORK };
  /** Node id -> partition group; nodes in different groups cannot talk. Empty: no partition. */
  private groupOf = new Map<number, number>();
  private sentCount = 0;
  private deliveredCount = 0;

  constructor(
    private readonly scheduler: SimScheduler,
    private readonly random: SeededRandom,
    private readonly deliver: (to: number, message: M) => void,
  ) {}

  get sent(): number {
    return this.sentCount;
  }

  get delivered(): number {
    return this.deliveredCount;
  }

  send(from: number, to: number, message: M): void {
    this.sentCount++;
    if (!this.connected(from, to) || this.random.chance(this.faults.dropProbability)) return;
    const copies = this.random.chance(this.faults.duplicateProbability) ? 2 : 1;
    for (let copy = 0; copy < copies; copy++) {
      this.scheduler.after(this.delayMs(), () => {
        if (!this.connected(from, to)) return;
        this.deliveredCount++;
        this.deliver(to, message);
      });
    }
  }

  /** Splits the nodes into groups that can only talk within themselves. */
  partition(groups: readonly (readonly number[])[]): void {
    this.groupOf = new Map();
    groups.forEach((group, index) => {
      for (const id of group) this.groupOf.set(id, index);
    });
  }

  heal(): void {
    this.groupOf = new Map();
  }

  isPartitioned(): boolean {
    return this.groupOf.size > 0;
  }

  connected(from: number, to: number): boolean {
    if (this.groupOf.size === 0) return true;
    return this.groupOf.get(from) === this.groupOf.get(to);
  }

  private delayMs(): number {
    const faults = this.faults;
    if (faults.delaySpikeMaxMs > 0 && this.random.chance(faults.delaySpikeProbability)) {
      return this.random.between(faults.delayMaxMs, faults.delaySpikeMaxMs + 1);
    }
    return this.random.between(faults.delayMinMs, Math.max(faults.delayMaxMs, faults.delayMinMs + 1));
  }
}

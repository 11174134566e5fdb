// At most `sendsMax` sends unanswered at once, for the tools that hand the producer one record at a
// time (produce, perf-test producer): the reader waits for room instead of piling up promises. A
// count and one waiter, not a race over every pending promise (which costs O(sendsMax) per record).

export class SendWindow {
  private unanswered = 0;
  private waiters: (() => void)[] = [];

  constructor(private readonly sendsMax: number) {}

  /** Tracks `sent` (which must not reject: its caller handles failures); resolves when there is room. */
  async add(sent: Promise<unknown>): Promise<void> {
    this.unanswered++;
    void sent.finally(() => {
      this.unanswered--;
      const waiters = this.waiters;
      this.waiters = [];
      for (const wake of waiters) wake();
    });
    while (this.unanswered >= this.sendsMax) await this.change();
  }

  /** Resolves once every tracked send is answered. */
  async drain(): Promise<void> {
    while (this.unanswered > 0) await this.change();
  }

  get size(): number {
    return this.unanswered;
  }

  private change(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}

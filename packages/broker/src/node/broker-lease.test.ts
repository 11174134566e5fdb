import { ManualClock } from '@gregor/ground';
import { describe, expect, it } from 'vitest';
import { BrokerLease } from './broker-lease.js';

const sessionTimeoutMs = 1_500;

function lease(): { clock: ManualClock; lease: BrokerLease } {
  const clock = new ManualClock(10_000);
  return { clock, lease: new BrokerLease(clock, sessionTimeoutMs) };
}

describe('BrokerLease', () => {
  it('is not held before any heartbeat was answered', () => {
    const { lease: subject } = lease();
    expect(subject.held()).toBe(false);
    expect(subject.remainingMs()).toBe(0);
  });

  it('lasts one session timeout from the send of the last answered heartbeat', () => {
    const { clock, lease: subject } = lease();
    const sentAtMs = clock.nowMs();
    clock.advanceMs(200); // the answer takes 200 ms
    subject.answered(sentAtMs, false);
    expect(subject.held()).toBe(true);
    expect(subject.remainingMs()).toBe(sessionTimeoutMs - 200);
    clock.advanceMs(sessionTimeoutMs - 201);
    expect(subject.held()).toBe(true);
    clock.advanceMs(1);
    expect(subject.held()).toBe(false);
  });

  it('a late answer cannot extend the lease past a session after its send', () => {
    const { clock, lease: subject } = lease();
    const sentAtMs = clock.nowMs();
    clock.advanceMs(sessionTimeoutMs + 500); // answered long after the controller could have fenced
    subject.answered(sentAtMs, false);
    expect(subject.held()).toBe(false);
  });

  it('each answered heartbeat renews it; unanswered ones do not', () => {
    const { clock, lease: subject } = lease();
    subject.answered(clock.nowMs(), false);
    clock.advanceMs(250);
    const lastAnsweredSendMs = clock.nowMs();
    subject.answered(lastAnsweredSendMs, false);
    // Heartbeats sent from here on are never answered (the broker is cut off from the quorum).
    clock.advanceMs(sessionTimeoutMs - 1);
    expect(subject.held()).toBe(true);
    clock.advanceMs(1);
    expect(subject.held()).toBe(false);
    // Back in the quorum's view: the next answered heartbeat resumes it.
    const resumedSendMs = clock.nowMs() + 3_000;
    clock.advanceMs(3_010);
    subject.answered(resumedSendMs, false);
    expect(subject.held()).toBe(true);
    expect(subject.remainingMs()).toBe(sessionTimeoutMs - 10);
  });

  it('an older answer never shortens what a newer one granted', () => {
    const { clock, lease: subject } = lease();
    const firstSendMs = clock.nowMs();
    clock.advanceMs(300);
    subject.answered(clock.nowMs(), false);
    subject.answered(firstSendMs, false);
    expect(subject.remainingMs()).toBe(sessionTimeoutMs);
  });

  it('a fenced answer ends it at once, and an unfenced one grants it again', () => {
    const { clock, lease: subject } = lease();
    subject.answered(clock.nowMs(), false);
    clock.advanceMs(100);
    subject.answered(clock.nowMs(), true);
    expect(subject.held()).toBe(false);
    clock.advanceMs(100);
    subject.answered(clock.nowMs(), false);
    expect(subject.held()).toBe(true);
  });
});

import { describe, expect, it } from 'vitest';
import { HeartbeatPacer, heartbeatsInFlightMax } from './heartbeat-pacer.js';

describe('HeartbeatPacer', () => {
  it('sends the first at once, then one interval after each send, answered or not', () => {
    const pacer = new HeartbeatPacer(250, 6);
    expect(pacer.nextSendDelayMs(1_000)).toBe(0);
    pacer.sent(1_000);
    expect(pacer.nextSendDelayMs(1_000)).toBe(250);
    expect(pacer.nextSendDelayMs(1_100)).toBe(150);
    // Unanswered, the next is due all the same.
    expect(pacer.nextSendDelayMs(1_250)).toBe(0);
    // A timer that ran late sends at once, and the one after counts from that send.
    expect(pacer.nextSendDelayMs(1_400)).toBe(0);
    pacer.sent(1_400);
    expect(pacer.nextSendDelayMs(1_400)).toBe(250);
    expect(pacer.unanswered).toBe(2);
  });

  it('holds the next one while inFlightMax are unanswered, until one is answered', () => {
    const pacer = new HeartbeatPacer(250, 2);
    const first = pacer.sent(0);
    pacer.sent(250);
    expect(pacer.nextSendDelayMs(500)).toBeUndefined();
    expect(pacer.nextSendDelayMs(5_000)).toBeUndefined();
    pacer.answered(first, true);
    expect(pacer.nextSendDelayMs(5_000)).toBe(0);
  });

  it('applies an answer only if no answer to a later heartbeat was applied before it', () => {
    const pacer = new HeartbeatPacer(250, 6);
    const first = pacer.sent(0);
    const second = pacer.sent(250);
    const third = pacer.sent(500);
    expect(pacer.answered(second, true)).toBe(true);
    expect(pacer.answered(first, true)).toBe(false); // older than the applied one
    expect(pacer.answered(third, true)).toBe(true);
    expect(pacer.unanswered).toBe(0);
  });

  it('never applies a call that ended without an answer, and it does not hide an older answer', () => {
    const pacer = new HeartbeatPacer(250, 6);
    const first = pacer.sent(0);
    const second = pacer.sent(250);
    expect(pacer.answered(second, false)).toBe(false); // timed out: says nothing
    expect(pacer.answered(first, true)).toBe(true);
  });

  it('tells a heartbeat overtaken by an applied answer, or sent before a reset, from a current one', () => {
    const pacer = new HeartbeatPacer(250, 6);
    const first = pacer.sent(0);
    const second = pacer.sent(250);
    const third = pacer.sent(500);
    expect(pacer.superseded(first)).toBe(false); // nothing applied yet
    pacer.answered(second, true);
    expect(pacer.superseded(first)).toBe(true);
    expect(pacer.superseded(third)).toBe(false);
    pacer.reset();
    expect(pacer.superseded(third)).toBe(true);
    expect(pacer.superseded(pacer.sent(750))).toBe(false);
  });

  it('after reset (registered again), answers to heartbeats sent before are not applied and the next goes at once', () => {
    const pacer = new HeartbeatPacer(250, 6);
    const before = pacer.sent(0);
    pacer.reset();
    expect(pacer.nextSendDelayMs(10)).toBe(0);
    const after = pacer.sent(10);
    expect(pacer.answered(before, true)).toBe(false);
    expect(pacer.answered(after, true)).toBe(true);
  });

  it('holds as many heartbeats in flight as one session timeout spans', () => {
    expect(heartbeatsInFlightMax(1_500, 250)).toBe(6);
    expect(heartbeatsInFlightMax(1_600, 250)).toBe(7);
    expect(heartbeatsInFlightMax(100, 250)).toBe(1);
  });
});

import { describe, expect, it } from 'vitest';
import { SendWindow } from './send-window.js';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((done) => {
    resolve = done;
  });
  return { promise, resolve };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('SendWindow', () => {
  it('lets a send in while there is room, waits when sendsMax are unanswered, and drains', async () => {
    const window = new SendWindow(2);
    const first = deferred();
    const second = deferred();
    await window.add(first.promise);
    let roomAgain = false;
    const adding = window.add(second.promise).then(() => {
      roomAgain = true;
    });
    await settle();
    expect(roomAgain).toBe(false);
    expect(window.size).toBe(2);
    first.resolve();
    await adding;
    expect(window.size).toBe(1);
    let drained = false;
    const draining = window.drain().then(() => {
      drained = true;
    });
    await settle();
    expect(drained).toBe(false);
    second.resolve();
    await draining;
    expect(window.size).toBe(0);
  });
});

import { describe, expect, it } from 'vitest';
import { type ReadinessInputs, readiness } from './readiness.js';

const ready: ReadinessInputs = {
  lifecycleState: 'running',
  imageSays: 'unfenced',
  heartbeatAnsweredAgoMs: 100,
  sessionTimeoutMs: 1_500,
  listenersServing: true,
};

describe('readiness', () => {
  it('is ready when registered, unfenced, answered and serving', () => {
    expect(readiness(ready)).toEqual({ ready: true, reasons: [] });
  });

  it.each<[Partial<ReadinessInputs>, RegExp]>([
    [
      { lifecycleState: 'starting', imageSays: 'unregistered', heartbeatAnsweredAgoMs: undefined },
      /not registered with the controller/,
    ],
    [{ lifecycleState: 'fenced', imageSays: 'fenced' }, /fenced by the controller/],
    [{ imageSays: 'fenced' }, /fenced in the metadata this broker applied/],
    [{ imageSays: 'unregistered' }, /not registered in the metadata this broker applied/],
    [
      { heartbeatAnsweredAgoMs: 1_501 },
      /no heartbeat answered for 1501 ms \(broker.session.timeout.ms=1500\)/,
    ],
    [{ listenersServing: false }, /Kafka listeners not serving/],
    [{ lifecycleState: 'shutting-down' }, /shutting down/],
    [{ lifecycleState: 'stopped' }, /shutting down/],
  ])('is not ready with %o', (change, reason) => {
    const state = readiness({ ...ready, ...change });
    expect(state.ready).toBe(false);
    expect(state.reasons.join('\n')).toMatch(reason);
  });

  it('names every reason at once', () => {
    const state = readiness({
      ...ready,
      lifecycleState: 'fenced',
      heartbeatAnsweredAgoMs: 5_000,
      listenersServing: false,
    });
    expect(state.reasons).toHaveLength(3);
  });
});

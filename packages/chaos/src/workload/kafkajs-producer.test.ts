import { describe, expect, it } from 'vitest';
import { renewsProducer } from './kafkajs-producer.js';

describe('renewsProducer', () => {
  it('makes an idempotent kafkajs producer anew after any failed send (kafkajs reuses its sequence numbers)', () => {
    expect(renewsProducer(true, 0)).toBe(false);
    expect(renewsProducer(true, 1)).toBe(true);
  });

  it('gives a producer without idempotence three failed sends in a row', () => {
    expect(renewsProducer(false, 2)).toBe(false);
    expect(renewsProducer(false, 3)).toBe(true);
  });
});

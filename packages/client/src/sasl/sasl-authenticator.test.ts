import { describe, expect, it } from 'vitest';
import { Kafka } from '../kafka.js';
import { validateSaslOptions } from './sasl-authenticator.js';

describe('the sasl option', () => {
  it("takes kafkajs's mechanism names", () => {
    expect(validateSaslOptions({ mechanism: 'scram-sha-512', username: 'u', password: 'p' })).toEqual({
      mechanism: 'scram-sha-512',
      username: 'u',
      password: 'p',
    });
  });

  it('refuses at new Kafka() a mechanism the client does not speak, and missing credentials', () => {
    expect(() => new Kafka({ brokers: ['127.0.0.1:9092'], sasl: { mechanism: 'aws' } as never })).toThrow(
      'sasl mechanism "aws" is not supported (supported: plain, scram-sha-256, scram-sha-512)',
    );
    expect(() => validateSaslOptions({ mechanism: 'plain', username: 'u' })).toThrow(
      'sasl needs a username and a password',
    );
  });
});

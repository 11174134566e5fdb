import { describe, expect, it } from 'vitest';
import { Kafka } from '../kafka.js';
import { oauthBearerClientFirst, validateSaslOptions } from './sasl-authenticator.js';

describe('the sasl option', () => {
  it("takes kafkajs's mechanism names", () => {
    expect(validateSaslOptions({ mechanism: 'scram-sha-512', username: 'u', password: 'p' })).toEqual({
      mechanism: 'scram-sha-512',
      username: 'u',
      password: 'p',
    });
  });

  it('takes tokenAuth for SCRAM (a delegation token), and refuses it for PLAIN', () => {
    expect(
      validateSaslOptions({ mechanism: 'scram-sha-256', username: 'id', password: 'hmac', tokenAuth: true }),
    ).toEqual({ mechanism: 'scram-sha-256', username: 'id', password: 'hmac', tokenAuth: true });
    expect(() =>
      validateSaslOptions({ mechanism: 'plain', username: 'id', password: 'hmac', tokenAuth: true }),
    ).toThrow('needs scram-sha-256 or scram-sha-512');
  });

  it('refuses at new Kafka() a mechanism the client does not speak, and missing credentials', () => {
    expect(() => new Kafka({ brokers: ['127.0.0.1:9092'], sasl: { mechanism: 'aws' } as never })).toThrow(
      'sasl mechanism "aws" is not supported (supported: plain, scram-sha-256, scram-sha-512, oauthbearer)',
    );
    expect(() => validateSaslOptions({ mechanism: 'plain', username: 'u' })).toThrow(
      'sasl needs a username and a password',
    );
  });

  it("takes kafkajs's oauthbearer option: an oauthBearerProvider, nothing else", () => {
    const oauthBearerProvider = async () => ({ value: 'a.b.' });
    expect(validateSaslOptions({ mechanism: 'OAUTHBEARER', oauthBearerProvider })).toEqual({
      mechanism: 'oauthbearer',
      oauthBearerProvider,
    });
    expect(() => validateSaslOptions({ mechanism: 'oauthbearer' })).toThrow('needs an oauthBearerProvider');
  });

  it('sends the RFC 7628 client-first message with the token and its extensions', () => {
    expect(oauthBearerClientFirst({ value: 'eyJh.eyJz.' }).toString()).toBe(
      'n,,\u0001auth=Bearer eyJh.eyJz.\u0001\u0001',
    );
    expect(oauthBearerClientFirst({ value: 't.c.', extensions: { traceId: 'x 1', b: 'y' } }).toString()).toBe(
      'n,,\u0001auth=Bearer t.c.\u0001traceId=x 1\u0001b=y\u0001\u0001',
    );
    expect(() => oauthBearerClientFirst({ value: 'has space' })).toThrow('no token value');
    expect(() => oauthBearerClientFirst({ value: 't.c.', extensions: { auth: 'x' } })).toThrow(
      'invalid OAUTHBEARER extension',
    );
  });
});

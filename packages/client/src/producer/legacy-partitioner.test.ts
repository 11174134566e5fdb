import { createRequire } from 'node:module';
import { SeededRandom } from '@gregor/ground';
import { describe, expect, it } from 'vitest';
import { legacyMurmur2 } from './legacy-partitioner.js';
import { murmur2 } from './partitioners.js';

// kafkajs's own legacy murmur2, from the kafkajs 2.2.4 installed for the integration tests.
const kafkajsLegacyMurmur2 = createRequire(import.meta.url)(
  'kafkajs/src/producer/partitioners/legacy/murmur2.js',
) as (key: Buffer | string) => number;

describe('legacy murmur2', () => {
  it('hashes every key as kafkajs 1.x did', () => {
    const random = new SeededRandom(16);
    for (let index = 0; index < 2_000; index++) {
      const key = Buffer.from(Array.from({ length: random.nextInt(40) }, () => random.nextInt(256)));
      expect(legacyMurmur2(key)).toBe(kafkajsLegacyMurmur2(key));
    }
    expect(legacyMurmur2('some-key')).toBe(kafkajsLegacyMurmur2('some-key'));
  });

  it('differs from the Java hash, which is why it is only an option', () => {
    const keys = Array.from({ length: 50 }, (_, index) => `key-${index}`);
    expect(keys.filter((key) => legacyMurmur2(key) !== murmur2(Buffer.from(key))).length).toBeGreaterThan(0);
  });
});

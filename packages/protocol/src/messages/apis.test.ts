import { SeededRandom } from '@gregor/ground';
// Round trips for every API x every supported version x both directions, on random messages that
// honour the version (fields absent in a version hold their defaults): decode(encode(m)) equals m
// and re-encoding gives the same bytes. Seeds are fixed, so a failure names the case to replay.

import { describe, expect, it } from 'vitest';
import { Reader } from '../reader.js';
import { decodeMessage, encodeMessage, type MessageSchema } from './codec.js';
import { decodeRequest, decodeResponse, encodeRequest, encodeResponse } from './frames.js';
import { randomMessage } from './random-value.js';
import { apis, type SupportedApiKey } from './registry.js';
import type { Fields } from './schema.js';

const seedsPerVersion = 25;

function versionsOf(schema: MessageSchema<Fields>): number[] {
  const versions: number[] = [];
  for (let version = schema.validVersions.min; version <= schema.validVersions.max; version++)
    versions.push(version);
  return versions;
}

describe.each(Object.values(apis))('$name', (api) => {
  const messages = [api.request, api.response] as MessageSchema<Fields>[];
  describe.each(messages)('$name', (schema) => {
    it.each(versionsOf(schema))('v%i round-trips random messages', (version) => {
      for (let seed = 1; seed <= seedsPerVersion; seed++) {
        const message = randomMessage(schema, version, new SeededRandom(seed * 1000 + version));
        const bytes = encodeMessage(schema, version, message).toBuffer();
        const reader = new Reader(bytes);
        const decoded = decodeMessage(schema, version, reader);
        expect(reader.remaining, `seed ${seed}`).toBe(0);
        expect(decoded, `seed ${seed}`).toEqual(message);
        expect(encodeMessage(schema, version, decoded).toBuffer().equals(bytes), `seed ${seed}`).toBe(true);
      }
    });
  });

  it.each(versionsOf(api.request as MessageSchema<Fields>))(
    'v%i frames round-trip with headers',
    (version) => {
      const apiKey = api.apiKey as SupportedApiKey;
      const random = new SeededRandom(version + 7);
      const request = randomMessage(api.request as MessageSchema<Fields>, version, random);
      const requestFrame = encodeRequest(apiKey, version, 4242, 'client-1', request as never);
      const decoded = decodeRequest(requestFrame);
      expect(decoded).toEqual({
        ok: true,
        apiKey,
        apiVersion: version,
        header: { apiKey, apiVersion: version, correlationId: 4242, clientId: 'client-1' },
        body: request,
        trailingBytes: 0,
      });

      const response = randomMessage(api.response as MessageSchema<Fields>, version, random);
      const responseFrame = encodeResponse(apiKey, version, -7, response as never, { sizePrefix: true });
      expect(responseFrame.readInt32BE(0)).toBe(responseFrame.length - 4);
      expect(decodeResponse(apiKey, version, responseFrame.subarray(4))).toEqual({
        ok: true,
        correlationId: -7,
        body: response,
      });
    },
  );
});

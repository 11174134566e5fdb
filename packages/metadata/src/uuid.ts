// Kafka's UUIDs (topic ids, broker incarnation ids): 16 bytes, shown as 22 characters of unpadded
// base64url, as `kafka-topics.sh --describe` prints them. Kept as strings so images compare with ===.

import type { Random } from '@gregor/ground';
import { DecodeError } from '@gregor/protocol';

export type Uuid = string;

export const uuidBytes = 16;

/** Kafka's ZERO_UUID: "no topic id". Never handed out. */
export const zeroUuid: Uuid = 'AAAAAAAAAAAAAAAAAAAAAA';
/** Kafka's METADATA_TOPIC_ID (all zero but the last bit): reserved for the metadata log itself. */
export const metadataTopicUuid: Uuid = 'AAAAAAAAAAAAAAAAAAAAAQ';

const uuidPattern = /^[A-Za-z0-9_-]{21}[AQgw]$/;

export function isUuid(value: string): boolean {
  return uuidPattern.test(value);
}

export function uuidToBytes(uuid: Uuid): Buffer {
  if (!isUuid(uuid)) throw new DecodeError(`not a base64url UUID: ${JSON.stringify(uuid)}`);
  const bytes = Buffer.from(uuid, 'base64url');
  if (bytes.length !== uuidBytes) throw new DecodeError(`UUID ${uuid} is ${bytes.length} bytes`);
  return bytes;
}

export function uuidFromBytes(bytes: Uint8Array): Uuid {
  if (bytes.length !== uuidBytes) throw new DecodeError(`a UUID is ${uuidBytes} bytes, got ${bytes.length}`);
  return Buffer.from(bytes).toString('base64url');
}

/**
 * A random version-4 UUID from the injected generator. Like Kafka's `Uuid.randomUuid()`, it never
 * returns the reserved ids nor one whose text starts with '-' (it would read as a command-line flag).
 */
export function randomUuid(random: Random): Uuid {
  for (;;) {
    const bytes = Buffer.alloc(uuidBytes);
    for (let i = 0; i < uuidBytes; i++) bytes[i] = random.nextInt(256);
    bytes[6] = (bytes[6]! & 0x0f) | 0x40; // version 4
    bytes[8] = (bytes[8]! & 0x3f) | 0x80; // IETF variant
    const uuid = uuidFromBytes(bytes);
    if (uuid !== zeroUuid && uuid !== metadataTopicUuid && !uuid.startsWith('-')) return uuid;
  }
}

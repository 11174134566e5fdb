// Topic ids: the metadata log keeps Kafka's text form (22 characters of base64url, as kafka-topics.sh
// prints them); the protocol codec carries a uuid field as 32 lowercase hex digits.

import { uuidFromBytes, uuidToBytes } from '@gregor/metadata';

export function topicIdToWire(topicId: string): string {
  return uuidToBytes(topicId).toString('hex');
}

/** The metadata form of a wire topic id, or null if it is not 16 bytes of hex. */
export function topicIdFromWire(hex: string): string | null {
  if (!/^[0-9a-f]{32}$/.test(hex)) return null;
  return uuidFromBytes(Buffer.from(hex, 'hex'));
}

import type { Random } from '@gregor/ground';

const uuidBytes = 16;

/**
 * A version-4 UUID in Java's `UUID.toString()` form (8-4-4-4-12 lowercase hex), from the injected
 * generator. Kafka names a member `clientId + "-" + UUID.randomUUID()`, and clients log and compare
 * these ids, so ours look the same.
 */
export function randomUuidString(random: Random): string {
  const bytes = Buffer.alloc(uuidBytes);
  for (let i = 0; i < uuidBytes; i++) bytes[i] = random.nextInt(256);
  bytes[6] = (bytes[6]! & 0x0f) | 0x40; // version 4
  bytes[8] = (bytes[8]! & 0x3f) | 0x80; // IETF variant
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

// Request and response headers.
//   Request header v1 => request_api_key:int16 request_api_version:int16 correlation_id:int32
//                        client_id:nullable int16 string
//   Request header v2 => v1 + TAG_BUFFER (client_id stays an int16-length string)
//   Response header v0 => correlation_id:int32
//   Response header v1 => correlation_id TAG_BUFFER
// (Request header v0, without client_id, is only used by ControlledShutdown v0, which Gregor lacks.)
// Which header version an API version uses is decided in api-keys.ts.

import type { Buffer } from 'node:buffer';
import type { Reader } from '../reader.js';
import type { Writer } from '../writer.js';

export interface RequestHeader {
  readonly apiKey: number;
  readonly apiVersion: number;
  readonly correlationId: number;
  readonly clientId: string | null;
  /** Header tagged fields (v2); Kafka defines none yet, so all of them are unknown. */
  readonly unknownTaggedFields?: ReadonlyMap<number, Buffer>;
}

/** The fixed 8-byte prefix every request header version shares. */
export interface RequestHeaderPrefix {
  readonly apiKey: number;
  readonly apiVersion: number;
  readonly correlationId: number;
}

export const requestHeaderPrefixBytes = 8;

export function readRequestHeaderPrefix(reader: Reader): RequestHeaderPrefix {
  const apiKey = reader.int16();
  const apiVersion = reader.int16();
  const correlationId = reader.int32();
  return { apiKey, apiVersion, correlationId };
}

/** Reads what follows the prefix: client_id, and the tagged fields in header v2. */
export function readRequestHeaderRest(
  reader: Reader,
  prefix: RequestHeaderPrefix,
  headerVersion: 1 | 2,
): RequestHeader {
  const clientId = reader.nullableString();
  if (headerVersion === 1) return { ...prefix, clientId };
  const tagged = reader.taggedFields();
  return tagged.size === 0 ? { ...prefix, clientId } : { ...prefix, clientId, unknownTaggedFields: tagged };
}

export function writeRequestHeader(writer: Writer, header: RequestHeader, headerVersion: 1 | 2): void {
  writer.int16(header.apiKey).int16(header.apiVersion).int32(header.correlationId).string(header.clientId);
  if (headerVersion === 2) writer.taggedFields(header.unknownTaggedFields ?? null);
}

export function writeResponseHeader(writer: Writer, correlationId: number, headerVersion: 0 | 1): void {
  writer.int32(correlationId);
  if (headerVersion === 1) writer.taggedFields();
}

/** Reads a response header; its tagged fields (v1) are skipped, Kafka defines none. */
export function readResponseHeader(reader: Reader, headerVersion: 0 | 1): number {
  const correlationId = reader.int32();
  if (headerVersion === 1) reader.taggedFields();
  return correlationId;
}

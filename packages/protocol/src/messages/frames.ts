// Whole frames: header + body, for the broker (decodeRequest / encodeResponse) and for clients
// (encodeRequest / decodeResponse). A "frame" here is what follows Kafka's 4-byte size prefix;
// decoders take frames without it, encoders leave it out unless `{ sizePrefix: true }` is given
// (then they write it in place, saving the network layer a copy).
//
// decodeRequest never throws for bad input: malformed bytes, unknown api keys and unsupported
// versions come back as a typed failure with as much of the header as could be read, so the network
// layer can answer ApiVersions with error 35 (encodeApiVersionsUnsupportedResponse) and close the
// connection for anything else.
//
// Bytes left in a request frame after the fields its version defines are not an error, as in Kafka:
// AbstractRequest.parseRequest reads the known fields from the buffer and never looks at what
// remains, so a request is refused only when a field cannot be read (truncated, a length or count
// past the end, a null where none is allowed). Clients rely on this: librdkafka 2.15 sends an
// all-topics Metadata v9+ request with a 4-byte array count where the compact varint belongs, which
// Kafka reads as a null topic list followed by bytes it ignores.

import type { Buffer } from 'node:buffer';
import { ErrorCode } from '../errors.js';
import { DecodeError, Reader } from '../reader.js';
import { Writer } from '../writer.js';
import { ApiKey, requestHeaderVersion, responseHeaderVersion } from './api-keys.js';
import { decodeMessage, EncodeError, encodeMessage, type MessageSchema } from './codec.js';
import {
  type RequestHeader,
  readRequestHeaderPrefix,
  readRequestHeaderRest,
  readResponseHeader,
  requestHeaderPrefixBytes,
  writeRequestHeader,
  writeResponseHeader,
} from './header.js';
import {
  apiDefinition,
  isSupportedApiKey,
  type RequestBody,
  type RequestInput,
  type ResponseBody,
  type ResponseInput,
  type SupportedApiKey,
  supportedApiVersions,
} from './registry.js';
import { type EncodeInput, type Fields, inVersions } from './schema.js';

// The interpreter is untyped underneath; the typed signatures below are where types are enforced.
type AnySchema = MessageSchema<Fields>;

export interface FrameOptions {
  /** Prepend Kafka's int32 frame size (default false). */
  readonly sizePrefix?: boolean;
  /**
   * Bytes the frame will take, near enough (a Produce request's record batches and a little): the
   * writer starts that large, so a big frame is neither copied as it grows nor copied at the end.
   */
  readonly sizeHintBytes?: number;
}

/** Unused bytes a finished frame may keep rather than be copied to a buffer of its own size. */
const frameSlackBytesMax = 4096;

/** A successfully decoded request; narrow on `apiKey` to get a typed body. */
export type DecodedRequest = {
  [K in SupportedApiKey]: {
    readonly ok: true;
    readonly apiKey: K;
    readonly apiVersion: number;
    readonly header: RequestHeader;
    readonly body: RequestBody<K>;
    /** Bytes after the last field of the request's version, ignored as Kafka ignores them. */
    readonly trailingBytes: number;
  };
}[SupportedApiKey];

export type RequestDecodeFailureReason =
  /** Fewer than the 8 bytes of api key, version and correlation id. */
  | 'truncated-header'
  | 'unknown-api-key'
  | 'unsupported-version'
  /** The header prefix was readable but the rest of the header or the body was not. */
  | 'malformed';

export interface RequestDecodeFailure {
  readonly ok: false;
  readonly reason: RequestDecodeFailureReason;
  readonly message: string;
  /** Present for every reason except 'truncated-header'. */
  readonly apiKey: number | null;
  readonly apiVersion: number | null;
  readonly correlationId: number | null;
}

export type RequestDecodeResult = DecodedRequest | RequestDecodeFailure;

/** Decodes a request frame (without its size prefix). Never throws on bad input. */
export function decodeRequest(frame: Buffer): RequestDecodeResult {
  if (frame.length < requestHeaderPrefixBytes) {
    return {
      ok: false,
      reason: 'truncated-header',
      message: `request frame of ${frame.length} byte(s) is shorter than a request header`,
      apiKey: null,
      apiVersion: null,
      correlationId: null,
    };
  }
  const reader = new Reader(frame);
  const prefix = readRequestHeaderPrefix(reader);
  const failure = (reason: RequestDecodeFailureReason, message: string): RequestDecodeFailure => ({
    ok: false,
    reason,
    message,
    apiKey: prefix.apiKey,
    apiVersion: prefix.apiVersion,
    correlationId: prefix.correlationId,
  });
  if (!isSupportedApiKey(prefix.apiKey)) {
    return failure('unknown-api-key', `unknown api key ${prefix.apiKey}`);
  }
  const api = apiDefinition(prefix.apiKey);
  if (!inVersions(api.request.validVersions, prefix.apiVersion)) {
    return failure('unsupported-version', `${api.name} v${prefix.apiVersion} is not supported`);
  }
  try {
    const header = readRequestHeaderRest(reader, prefix, requestHeaderVersion(api.apiKey, prefix.apiVersion));
    const body = decodeMessage(api.request as AnySchema, prefix.apiVersion, reader);
    return {
      ok: true,
      apiKey: api.apiKey,
      apiVersion: prefix.apiVersion,
      header,
      body,
      trailingBytes: reader.remaining,
    } as DecodedRequest;
  } catch (error) {
    if (error instanceof DecodeError) return failure('malformed', error.message);
    throw error;
  }
}

function checkVersion(apiKey: SupportedApiKey, apiVersion: number): void {
  const api = apiDefinition(apiKey);
  if (!inVersions(api.request.validVersions, apiVersion)) {
    throw new EncodeError(`${api.name} v${apiVersion} is not supported`);
  }
}

function finish(writer: Writer, options: FrameOptions | undefined): Buffer {
  if (options?.sizePrefix) writer.patchInt32(0, writer.offset - 4);
  // The writer is this frame's alone: when it is (nearly) full, its bytes are the frame, and copying
  // them would only cost a copy of every record of a Produce request.
  const slackBytes = writer.capacity - writer.offset;
  return slackBytes <= frameSlackBytesMax ? writer.view() : writer.toBuffer();
}

function startFrame(options: FrameOptions | undefined): Writer {
  const writer = new Writer(options?.sizeHintBytes);
  if (options?.sizePrefix) writer.reserve(4);
  return writer;
}

/** Encodes a response frame. Throws EncodeError if the body does not fit the version (a bug). */
export function encodeResponse<K extends SupportedApiKey>(
  apiKey: K,
  apiVersion: number,
  correlationId: number,
  body: ResponseInput<K>,
  options?: FrameOptions,
): Buffer {
  checkVersion(apiKey, apiVersion);
  const writer = startFrame(options);
  writeResponseHeader(writer, correlationId, responseHeaderVersion(apiKey, apiVersion));
  encodeMessage(apiDefinition(apiKey).response as AnySchema, apiVersion, body as EncodeInput<Fields>, writer);
  return finish(writer, options);
}

/** Encodes a request frame. Throws EncodeError if the body does not fit the version (a bug). */
export function encodeRequest<K extends SupportedApiKey>(
  apiKey: K,
  apiVersion: number,
  correlationId: number,
  clientId: string | null,
  body: RequestInput<K>,
  options?: FrameOptions,
): Buffer {
  checkVersion(apiKey, apiVersion);
  const writer = startFrame(options);
  writeRequestHeader(
    writer,
    { apiKey, apiVersion, correlationId, clientId },
    requestHeaderVersion(apiKey, apiVersion),
  );
  encodeMessage(apiDefinition(apiKey).request as AnySchema, apiVersion, body as EncodeInput<Fields>, writer);
  return finish(writer, options);
}

export type ResponseDecodeResult<K extends SupportedApiKey> =
  | { readonly ok: true; readonly correlationId: number; readonly body: ResponseBody<K> }
  | { readonly ok: false; readonly message: string; readonly correlationId: number | null };

/** The correlation id of a response frame, to find the request it answers; null if too short. */
export function peekCorrelationId(frame: Buffer): number | null {
  return frame.length < 4 ? null : frame.readInt32BE(0);
}

/**
 * Decodes a response frame (without its size prefix) to the request `apiKey`/`apiVersion` the
 * client sent. Never throws on bad input. Bytes after the last known field are refused unless
 * `ignoreTrailingBytes`: Kafka's own clients read the fields they know and ignore the rest, which a
 * client must do to talk to brokers that write more (librdkafka's mock cluster does); Gregor's tests
 * keep the strict form to catch its own encoder's mistakes.
 */
export function decodeResponse<K extends SupportedApiKey>(
  apiKey: K,
  apiVersion: number,
  frame: Buffer,
  options: { readonly ignoreTrailingBytes?: boolean } = {},
): ResponseDecodeResult<K> {
  const api = apiDefinition(apiKey);
  const correlationId = peekCorrelationId(frame);
  if (!inVersions(api.response.validVersions, apiVersion)) {
    return { ok: false, message: `${api.name} v${apiVersion} is not supported`, correlationId };
  }
  const reader = new Reader(frame);
  try {
    readResponseHeader(reader, responseHeaderVersion(apiKey, apiVersion));
    const body = decodeMessage(api.response as AnySchema, apiVersion, reader) as ResponseBody<K>;
    if (reader.remaining !== 0 && options.ignoreTrailingBytes !== true) {
      return {
        ok: false,
        message: `${api.name} response has ${reader.remaining} trailing byte(s)`,
        correlationId,
      };
    }
    return { ok: true, correlationId: correlationId!, body };
  } catch (error) {
    if (error instanceof DecodeError) return { ok: false, message: error.message, correlationId };
    throw error;
  }
}

/**
 * The answer to an ApiVersions request whose version Gregor does not support: error 35 with the
 * supported ranges, in the v0 layout (which every client can read), so the client retries with a
 * version it finds there. Never close the connection instead: librdkafka then stops probing.
 */
export function encodeApiVersionsUnsupportedResponse(correlationId: number, options?: FrameOptions): Buffer {
  return encodeResponse(
    ApiKey.ApiVersions,
    0,
    correlationId,
    { errorCode: ErrorCode.UNSUPPORTED_VERSION, apiKeys: supportedApiVersions() },
    options,
  );
}

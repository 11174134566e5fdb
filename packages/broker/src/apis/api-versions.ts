// ApiVersions (key 18), versions 0-4 (v4: v3's layout, Kafka 4.0).
//   Request  v0-2 => (empty);  v3+ => client_software_name client_software_version TAG_BUFFER
//   Response       => error_code [api_keys => api_key min_version max_version] throttle_time_ms(1+)
// No supported or finalized features are advertised (the tagged fields of v3+ stay at their
// defaults): Gregor keeps no feature levels in its metadata log (KIP-584 is not implemented).
// From v3 on the client's software name and version must match Kafka's pattern (letters, digits,
// '-' and '.', starting and ending with a letter or digit), else INVALID_REQUEST with no api keys,
// as Kafka's ApiVersionsRequest.isValid decides. A version beyond 4 never reaches this handler: the router answers it with error 35 in the v0
// layout (the client then retries with a version from that list).

import { type ApiKey, ErrorCode, type RequestBody, type ResponseInput } from '@gregor/protocol';
import type { RequestContext } from './api-handler.js';

type Key = typeof ApiKey.ApiVersions;

/** Kafka's ApiVersionsRequest.SOFTWARE_NAME_VERSION_PATTERN. */
const softwareNameOrVersion = /^[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?$/;

/** From this version on the request names the client software, which must be valid. */
const clientSoftwareVersionMin = 3;

export async function handleApiVersions(
  body: RequestBody<Key>,
  apiVersion: number,
  context: RequestContext,
): Promise<ResponseInput<Key>> {
  if (
    apiVersion >= clientSoftwareVersionMin &&
    !(
      softwareNameOrVersion.test(body.clientSoftwareName) &&
      softwareNameOrVersion.test(body.clientSoftwareVersion)
    )
  ) {
    return { errorCode: ErrorCode.INVALID_REQUEST, apiKeys: [], throttleTimeMs: 0 };
  }
  return {
    errorCode: ErrorCode.NONE,
    apiKeys: context.advertisedApiVersions.map((api) => ({ ...api })),
    throttleTimeMs: 0,
  };
}

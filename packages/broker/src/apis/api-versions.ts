// ApiVersions (key 18), versions 0-3.
//   Request  v0-2 => (empty);  v3 => client_software_name client_software_version TAG_BUFFER
//   Response       => error_code [api_keys => api_key min_version max_version] throttle_time_ms(1+)
// A version beyond 3 never reaches this handler: the router answers it with error 35 in the v0
// layout (the client then retries with a version from that list).

import { type ApiKey, ErrorCode, type RequestBody, type ResponseInput } from '@gregor/protocol';
import type { RequestContext } from './api-handler.js';

type Key = typeof ApiKey.ApiVersions;

export async function handleApiVersions(
  _body: RequestBody<Key>,
  _apiVersion: number,
  context: RequestContext,
): Promise<ResponseInput<Key>> {
  return {
    errorCode: ErrorCode.NONE,
    apiKeys: context.advertisedApiVersions.map((api) => ({ ...api })),
    throttleTimeMs: 0,
  };
}

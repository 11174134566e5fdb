// Pairs an API's request and response schemas with its entry in the api-key table, so one file per
// API (apis/*.ts) declares everything about it and takes its version range from one place.

import { ApiKey, type ApiKeyNumber, type ApiName, type ApiVersionSupport, apiSupport } from './api-keys.js';
import { defineMessage, type MessageSchema } from './codec.js';
import type { Fields } from './schema.js';

export interface ApiDefinition<N extends ApiName, Req extends Fields, Res extends Fields> {
  readonly name: N;
  readonly apiKey: (typeof ApiKey)[N];
  readonly support: ApiVersionSupport;
  readonly request: MessageSchema<Req>;
  readonly response: MessageSchema<Res>;
}

export function defineApi<N extends ApiName, Req extends Fields, Res extends Fields>(
  name: N,
  request: Req,
  response: Res,
): ApiDefinition<N, Req, Res> {
  const apiKey = ApiKey[name];
  const support = apiSupport(apiKey as ApiKeyNumber)!;
  const validVersions = { min: support.minVersion, max: support.maxVersion };
  const flexibleVersions = { min: support.firstFlexibleVersion, max: Number.POSITIVE_INFINITY };
  return {
    name,
    apiKey,
    support,
    request: defineMessage(`${name}Request`, validVersions, flexibleVersions, request),
    response: defineMessage(`${name}Response`, validVersions, flexibleVersions, response),
  };
}

// The shape every Kafka API handler has: decoded request body in, response body out. Expected
// failures are error codes inside the response; a thrown exception is a bug (the router logs it and
// closes the connection).

import type { RequestBody, ResponseInput, SupportedApiKey } from '@gregor/protocol';
import type { ConnectionContext } from '../network/connection.js';
import type { BrokerContext } from './broker-context.js';

export interface AdvertisedApiVersion {
  readonly apiKey: number;
  readonly minVersion: number;
  readonly maxVersion: number;
}

export interface RequestContext {
  readonly broker: BrokerContext;
  readonly connection: ConnectionContext;
  readonly clientId: string | null;
  /** What ApiVersions advertises: exactly the APIs this router has handlers for. */
  readonly advertisedApiVersions: readonly AdvertisedApiVersion[];
}

export type ApiHandler<K extends SupportedApiKey> = (
  body: RequestBody<K>,
  apiVersion: number,
  context: RequestContext,
) => Promise<ResponseInput<K>>;

/** Handlers by api key; an API without one is neither advertised nor answered. */
export type ApiHandlers = { readonly [K in SupportedApiKey]?: ApiHandler<K> };

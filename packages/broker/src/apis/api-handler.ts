// The shape every Kafka API handler has: decoded request body in, response body out (or, for the
// one API that may be answered with nothing, a NoResponse). Expected failures are error codes inside
// the response; a thrown exception is a bug (the router logs it and closes the connection).

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
  /**
   * Asks that the connection close once this response is written, if no other request on it is
   * unanswered then (nothing a client waits for is cut off): for answers a client should take
   * elsewhere next time, since many clients send their next Metadata request to the broker they
   * used last.
   */
  closeAfterResponseWhenIdle(reason: string): void;
}

/**
 * A request that gets no response: Produce with acks=0, whose client reads none. With a
 * `closeReason` the connection is closed instead (an acks=0 partition failed: the producer notices
 * the close and refreshes its metadata, as with Kafka).
 */
export class NoResponse {
  constructor(readonly closeReason: string | null = null) {}
}

export type ApiHandler<K extends SupportedApiKey> = (
  body: RequestBody<K>,
  apiVersion: number,
  context: RequestContext,
) => Promise<ResponseInput<K> | NoResponse>;

/** Handlers by api key; an API without one is neither advertised nor answered. */
export type ApiHandlers = { readonly [K in SupportedApiKey]?: ApiHandler<K> };

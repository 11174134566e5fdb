// From a request frame to a response frame: decode, dispatch to the API's handler, encode. The
// Connection (network/connection.ts) calls this concurrently for pipelined requests and writes the
// outcomes in request order.
//
// What happens to a frame that is not a well-formed request of an API we answer (as Kafka does):
//   - ApiVersions in a version we do not know: error 35 with our ranges, in the v0 layout, so the
//     client retries with a version it finds there. Never a close: librdkafka then stops probing.
//   - any other unknown API key or version, a malformed frame, an API without a handler: the
//     connection is closed (that connection only) and the reason logged.
//   - a handler's NoResponse (Produce with acks=0): nothing is sent; one with a close reason closes
//     the connection instead (how Kafka tells an acks=0 producer that a partition failed).
//   - bytes after the last field of a request's version: ignored, as Kafka ignores them (logged at
//     debug); a field that cannot be read is still a malformed frame.
//   - a handler that throws has a bug: logged, and the connection is closed.
//
// Every request handled is counted and timed under Kafka's request name (RequestMetrics); a Fetch
// also under FetchConsumer (or FetchFollower, for a replica id >= 0), as Kafka does.
//
// Client quotas (quotas/client-quotas.ts): a Produce counts its request bytes, a consumer Fetch its
// response bytes, and every request of a client with a request_percentage quota its loop time (from
// taking the frame to the encoded response, with every continuation of its own in between but none
// of the time it waits: a RequestTimeMeter, quotas/request-time-meters.ts); over quota,
// the response carries throttle_time_ms (the longer of the two throttles; a Fetch over its byte rate
// loses its records) and the outcome carries the throttle the connection applies. The outcome of a
// request from a client that has any client quota says so (`underQuota`): the connection then
// handles its requests one at a time, as Kafka does, so that a throttle holds what was sent behind.
// The outcome of a metered request also carries a NetworkTimeRecorder (`networkTime`): the
// connection times its reading of frames and writing of responses on the same request clock and
// records that against the client's request_percentage without throttling the response (Kafka's
// network thread time, ClientRequestQuotaManager.recordNoThrottle); the next request pays.
//
// SASL re-authentication (security/connection-session.ts): a connection whose session lifetime
// (connections.max.reauth.ms) has passed is closed, unanswered, on any request but SaslHandshake and
// the SaslAuthenticate of a re-authentication, as Kafka's SocketServer closes an expired channel.

import {
  ApiKey,
  apiDefinition,
  type DecodedRequest,
  decodeRequest,
  ErrorCode,
  encodeResponse,
  inVersions,
  type ResponseInput,
  type SupportedApiKey,
  supportedApiVersions,
  type VersionRange,
} from '@gregor/protocol';
import {
  type AdvertisedApiVersion,
  type ApiHandler,
  type ApiHandlers,
  NoResponse,
  type RequestContext,
} from './apis/api-handler.js';
import type { BrokerContext } from './apis/broker-context.js';
import { fetchReplicaId } from './apis/fetch.js';
import { saslStep } from './apis/sasl-authenticate.js';
import type {
  ConnectionContext,
  FrameHandler,
  HandlerOutcome,
  NetworkTimeRecorder,
  Throttle,
} from './network/connection.js';
import type { QuotaClient } from './quotas/client-quota-manager.js';
import { longerThrottle, quotaClientOf } from './quotas/client-quotas.js';
import type { RequestTimeMeter } from './quotas/request-time-meters.js';
import type { ConnectionSession } from './security/connection-session.js';
import { formatPrincipal } from './security/kafka-principal.js';

/**
 * The router for one broker, serving `handlers` (built by `apiHandlers` in apis/api-handlers.ts).
 * ApiVersions advertises exactly the APIs that have one, so a client never picks an API it would be
 * cut off for.
 */
export function createRequestRouter(broker: BrokerContext, handlers: ApiHandlers): FrameHandler {
  const advertisedApiVersions: readonly AdvertisedApiVersion[] = supportedApiVersions().filter(
    (api) => handlers[api.apiKey as SupportedApiKey] !== undefined,
  );
  const metrics = broker.metrics;
  /** Kafka's request names by api key (ApiKeys.name). */
  const requestNames: string[] = [];
  for (const [name, apiKey] of Object.entries(ApiKey)) requestNames[apiKey] = name;

  const refuse = (connection: ConnectionContext, reason: string, details: object = {}): HandlerOutcome => {
    broker.logger.warn(
      { connectionId: connection.connectionId, remoteAddress: connection.remoteAddress, reason, ...details },
      'closing client connection',
    );
    return { kind: 'close', reason };
  };

  const recordRequest = (decoded: DecodedRequest, startMs: number): void => {
    const endMs = metrics.nowMs();
    metrics.requestCompleted(requestNames[decoded.apiKey]!, decoded.apiVersion, startMs, endMs);
    if (decoded.apiKey === ApiKey.Fetch) {
      const fetcher = fetchReplicaId(decoded.body) >= 0 ? 'FetchFollower' : 'FetchConsumer';
      metrics.requestCompleted(fetcher, decoded.apiVersion, startMs, endMs);
    }
  };

  /** The APIs a SASL connection may use before it has authenticated, as in Kafka. */
  const beforeAuthentication: ReadonlySet<number> = new Set([
    ApiKey.ApiVersions,
    ApiKey.SaslHandshake,
    ApiKey.SaslAuthenticate,
  ]);

  // Everything up to finding the handler runs at once, so a frame refused there is refused before
  // the connection reads the next one (see FrameHandler).
  return (frame: Buffer, connection: ConnectionContext): Promise<HandlerOutcome> | HandlerOutcome => {
    const startMs = metrics.nowMs();
    // Timed only while some client quota is set: reading the clock costs about 0.1 µs a time.
    const requestClock = broker.quotas?.anyQuotaSet === true ? broker.quotas.requestClock : undefined;
    const takenMs = requestClock?.nowMs() ?? 0;
    const session = connection.session;
    if (session?.saslState === 'raw-tokens') {
      // After SaslHandshake v0 the frames are SASL tokens, not requests; a failure just closes.
      const step = saslStep(session, frame, { broker, connection });
      if (step.kind === 'failed') return { kind: 'close', reason: step.message };
      return { kind: 'respond', response: step.response };
    }
    const decoded = decodeRequest(frame);
    if (!decoded.ok) {
      if (decoded.reason === 'unsupported-version' && decoded.apiKey === ApiKey.ApiVersions) {
        const response = encodeResponse(ApiKey.ApiVersions, 0, decoded.correlationId!, {
          errorCode: ErrorCode.UNSUPPORTED_VERSION,
          apiKeys: advertisedApiVersions.map((api) => ({ ...api })),
        });
        return { kind: 'respond', response };
      }
      return refuse(connection, `${decoded.reason}: ${decoded.message}`, {
        apiKey: decoded.apiKey,
        apiVersion: decoded.apiVersion,
      });
    }
    if (decoded.trailingBytes > 0) {
      // Kafka ignores bytes after a request's last field and so do we (librdkafka 2.15 sends some).
      broker.logger.debug(
        {
          connectionId: connection.connectionId,
          apiKey: decoded.apiKey,
          apiVersion: decoded.apiVersion,
          trailingBytes: decoded.trailingBytes,
        },
        'ignored bytes after the last field of a request',
      );
    }
    if (
      session?.principal !== undefined &&
      session.expired(broker.clock.nowMs()) &&
      !isReauthentication(decoded.apiKey, session)
    ) {
      // Kafka's SocketServer closes such a connection without an answer ("expired channel").
      return refuse(
        connection,
        'SASL session expired (connections.max.reauth.ms) without re-authentication',
        {
          principal: formatPrincipal(session.principal),
          apiKey: decoded.apiKey,
        },
      );
    }
    if (
      session !== undefined &&
      session.principal === undefined &&
      !beforeAuthentication.has(decoded.apiKey)
    ) {
      return refuse(
        connection,
        `${requestNames[decoded.apiKey]} request before SASL authentication completed`,
        {
          apiKey: decoded.apiKey,
          saslState: session.saslState,
        },
      );
    }
    const handler = handlers[decoded.apiKey] as ApiHandler<typeof decoded.apiKey> | undefined;
    if (handler === undefined) {
      return refuse(connection, `api key ${decoded.apiKey} is not served by this broker`, {
        apiKey: decoded.apiKey,
      });
    }
    const quotas = broker.quotas;
    const who = (): QuotaClient => quotaClientOf(connection, decoded.header.clientId);
    const handle = async (
      meter: RequestTimeMeter | undefined,
      networkTime: NetworkTimeRecorder | undefined,
    ): Promise<HandlerOutcome> => {
      let closeWhenIdle: string | undefined;
      const context: RequestContext = {
        broker,
        connection,
        clientId: decoded.header.clientId,
        advertisedApiVersions,
        closeAfterResponseWhenIdle: (reason) => {
          closeWhenIdle = reason;
        },
      };
      let response: Buffer;
      let throttle: Throttle | undefined;
      let underQuota = false;
      try {
        let body = await callHandler(decoded, handler, context);
        underQuota = quotas !== undefined && requestClock !== undefined && quotas.underQuota(who());
        /** The loop time of this request so far (the meter closes), against request_percentage. */
        const throttleRequest = (): Throttle | undefined => {
          if (quotas === undefined || meter === undefined) return undefined;
          return quotas.throttleRequest(who(), meter.close(), decoded.apiKey, decoded.apiVersion);
        };
        if (quotas !== undefined && decoded.apiKey === ApiKey.Produce) {
          throttle = quotas.throttleProduce(who(), frame.length, decoded.apiVersion);
          if (throttle !== undefined && !(body instanceof NoResponse)) {
            const throttled: ResponseInput<typeof ApiKey.Produce> = {
              ...(body as ResponseInput<typeof ApiKey.Produce>),
              throttleTimeMs: throttle.timeMs,
            };
            body = throttled as ResponseInput<SupportedApiKey>;
          }
        }
        if (body instanceof NoResponse) {
          throttle = longerThrottle(throttle, throttleRequest());
          recordRequest(decoded, startMs);
          if (body.closeReason !== null) {
            return refuse(connection, body.closeReason, { clientId: decoded.header.clientId });
          }
          return {
            kind: 'no-response',
            ...(throttle === undefined ? {} : { throttle }),
            ...(underQuota ? { underQuota } : {}),
            ...(networkTime === undefined ? {} : { networkTime }),
          };
        }
        response = encodeResponse(
          decoded.apiKey,
          decoded.apiVersion,
          decoded.header.correlationId,
          body as never,
        );
        if (quotas !== undefined && decoded.apiKey === ApiKey.Fetch && fetchReplicaId(decoded.body) < 0) {
          throttle = quotas.throttleFetch(who(), response.length, decoded.apiVersion);
          if (throttle !== undefined) {
            const empty: ResponseInput<typeof ApiKey.Fetch> = {
              ...(body as ResponseInput<typeof ApiKey.Fetch>),
              responses: [],
              throttleTimeMs: throttle.timeMs,
            };
            body = empty as ResponseInput<SupportedApiKey>;
            response = encodeResponse(ApiKey.Fetch, decoded.apiVersion, decoded.header.correlationId, empty);
          }
        }
        const requestThrottle =
          decoded.apiKey === ApiKey.Fetch && fetchReplicaId(decoded.body) >= 0
            ? undefined
            : throttleRequest();
        if (requestThrottle !== undefined) {
          throttle = longerThrottle(throttle, requestThrottle)!;
          if (hasThrottleTimeField(decoded.apiKey, decoded.apiVersion)) {
            response = encodeResponse(decoded.apiKey, decoded.apiVersion, decoded.header.correlationId, {
              ...(body as object),
              throttleTimeMs: throttle.timeMs,
            } as never);
          }
        }
        recordRequest(decoded, startMs);
        if (session?.saslState === 'failed') {
          return { kind: 'respond', response, closeAfter: 'SASL authentication failed' };
        }
      } catch (error) {
        broker.logger.error(
          {
            err: error,
            apiKey: decoded.apiKey,
            apiVersion: decoded.apiVersion,
            connectionId: connection.connectionId,
          },
          'request handler failed',
        );
        return { kind: 'close', reason: `request handler failed: ${String(error)}` };
      } finally {
        meter?.close();
      }
      return {
        kind: 'respond',
        response,
        ...(throttle === undefined ? {} : { throttle }),
        ...(underQuota ? { underQuota } : {}),
        ...(networkTime === undefined ? {} : { networkTime }),
        ...(closeWhenIdle === undefined ? {} : { closeAfterWhenIdle: closeWhenIdle }),
      };
    };
    // A client under a request_percentage quota has its request metered, continuations included
    // (quotas/request-time-meters.ts), from the moment its frame was taken; the connection times
    // its reading of the frame and writing of the response on the same clock and records that too
    // (Kafka's network thread time), without throttling this response.
    if (
      quotas !== undefined &&
      requestClock !== undefined &&
      quotas.requestTimeCounted(who(), decoded.apiKey)
    ) {
      const networkTime: NetworkTimeRecorder = {
        clock: requestClock,
        record: (timeMs) => quotas.recordNetworkTime(who(), timeMs),
      };
      return quotas.requestTime.run(takenMs, (meter) => handle(meter, networkTime));
    }
    return handle(undefined, undefined);
  };
}

/** Whether the response of this API version has throttle_time_ms. */
function hasThrottleTimeField(apiKey: SupportedApiKey, apiVersion: number): boolean {
  const field = (
    apiDefinition(apiKey).response.fields as Record<string, { spec: { versions: VersionRange } }>
  ).throttleTimeMs;
  return field !== undefined && inVersions(field.spec.versions, apiVersion);
}

/**
 * The requests an expired session may still send: SaslHandshake to begin re-authenticating, and
 * SaslAuthenticate once it has.
 */
function isReauthentication(apiKey: number, session: ConnectionSession): boolean {
  return apiKey === ApiKey.SaslHandshake || (apiKey === ApiKey.SaslAuthenticate && session.reauthenticating);
}

/**
 * TypeScript cannot tie a union-typed request to the handler picked by its own api key; the table's
 * type does (handlers[K] is an ApiHandler<K>), so the one cast lives here.
 */
function callHandler(
  decoded: DecodedRequest,
  handler: ApiHandler<SupportedApiKey>,
  context: RequestContext,
): Promise<ResponseInput<SupportedApiKey> | NoResponse> {
  return (
    handler as (
      body: unknown,
      apiVersion: number,
      context: RequestContext,
    ) => Promise<ResponseInput<SupportedApiKey> | NoResponse>
  )(decoded.body, decoded.apiVersion, context);
}

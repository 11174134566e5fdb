// The broker's client byte-rate quotas: one ClientQuotaManager for Produce (producer_byte_rate, over
// the request's bytes) and one for consumer Fetch (consumer_byte_rate, over the response's bytes),
// both reading the quotas of the current metadata image, and how a throttle reaches the connection.
//
// KIP-219: from Produce v6 and Fetch v8 the client waits out throttle_time_ms itself, so the
// response goes at once and the broker only stops reading from the connection for that time; older
// clients do not, so their response also waits (network/connection.ts). A throttled Fetch is
// answered without records and its bytes are not counted, as Kafka does: the client gets the data
// after the throttle instead of being charged for data it never received.

import type { Clock } from '@gregor/ground';
import type { ClientQuotaState } from '@gregor/metadata';
import type { ConnectionContext, Throttle } from '../network/connection.js';
import { anonymousPrincipal } from '../security/kafka-principal.js';
import { ClientQuotaManager, type QuotaClient, type QuotaWindows } from './client-quota-manager.js';

/** The first versions whose clients honour throttle_time_ms themselves (KIP-219). */
export const produceClientThrottlingVersionMin = 6;
export const fetchClientThrottlingVersionMin = 8;

/** One throttle as metrics see it: `whose` is the matched quota entity's user and client id. */
export interface ThrottleObserver {
  clientThrottled(quota: 'Produce' | 'Fetch', whose: QuotaClient, throttleTimeMs: number): void;
}

/** Who a request is from, for quotas: the principal's name and the header's client id. */
export function quotaClientOf(connection: ConnectionContext, clientId: string | null): QuotaClient {
  return { user: (connection.session?.principal ?? anonymousPrincipal).name, clientId: clientId ?? '' };
}

export class ClientQuotas {
  readonly produce: ClientQuotaManager;
  readonly fetch: ClientQuotaManager;

  constructor(
    windows: QuotaWindows,
    quotas: () => ReadonlyMap<string, ClientQuotaState>,
    private readonly clock: Clock,
    private readonly observer?: ThrottleObserver,
  ) {
    this.produce = new ClientQuotaManager('producer_byte_rate', windows, quotas);
    this.fetch = new ClientQuotaManager('consumer_byte_rate', windows, quotas);
  }

  /** Counts a Produce request of `requestBytes`; the throttle for its connection, if over quota. */
  throttleProduce(who: QuotaClient, requestBytes: number, apiVersion: number): Throttle | undefined {
    const throttle = this.produce.record(who, requestBytes, this.clock.nowMs());
    if (throttle === null || throttle.timeMs <= 0) return undefined;
    this.observer?.clientThrottled('Produce', throttle, throttle.timeMs);
    return { timeMs: throttle.timeMs, delayResponse: apiVersion < produceClientThrottlingVersionMin };
  }

  /**
   * Counts a consumer Fetch response of `responseBytes`. Over quota: the bytes are taken back (the
   * caller answers without records) and the throttle is returned.
   */
  throttleFetch(who: QuotaClient, responseBytes: number, apiVersion: number): Throttle | undefined {
    const nowMs = this.clock.nowMs();
    const throttle = this.fetch.record(who, responseBytes, nowMs);
    if (throttle === null || throttle.timeMs <= 0) return undefined;
    this.fetch.unrecord(who, responseBytes, nowMs);
    this.observer?.clientThrottled('Fetch', throttle, throttle.timeMs);
    return { timeMs: throttle.timeMs, delayResponse: apiVersion < fetchClientThrottlingVersionMin };
  }
}

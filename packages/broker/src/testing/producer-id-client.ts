// A client of the fixture's broker whose requests also reach InitProducerId: its own router over the
// fixture's context, with a ProducerIdManager on the fixture's producer id blocks (the fixture's own
// router has no InitProducerId handler). For the idempotent and transactional producer tests.

import { ApiKey, encodeRequest, type RequestInput, type SupportedApiKey } from '@gregor/protocol';
import { apiHandlers } from '../apis/api-handlers.js';
import type { FrameHandler } from '../network/connection.js';
import { ProducerIdManager } from '../producer-ids/producer-id-manager.js';
import { createRequestRouter } from '../request-router.js';
import { decodeOutcome, type LocalClusterFixture } from './local-cluster-fixture.js';

export class ProducerIdClient {
  private readonly router: FrameHandler;
  private correlationId = 1;

  constructor(cluster: LocalClusterFixture) {
    this.router = createRequestRouter(
      cluster.context,
      apiHandlers({ producerIds: new ProducerIdManager(cluster.producerIdBlockSource()) }),
    );
  }

  /** Sends a request and decodes its response (fails the test if there is none). */
  async request<K extends SupportedApiKey>(apiKey: K, version: number, body: RequestInput<K>) {
    const frame = encodeRequest(apiKey, version, this.correlationId++, 'idempotence-test', body);
    const outcome = await this.router(frame, {
      connectionId: 7,
      remoteAddress: '127.0.0.1:50007',
      listenerName: 'PLAINTEXT',
    });
    return decodeOutcome(apiKey, version, outcome);
  }

  /** InitProducerId: a new producer (the defaults), or a bump of `producerId` at `producerEpoch`. */
  initProducerId(
    version: number,
    transactionalId: string | null = null,
    producerId = -1n,
    producerEpoch = -1,
  ) {
    return this.request(ApiKey.InitProducerId, version, {
      transactionalId,
      transactionTimeoutMs: 60_000,
      producerId,
      producerEpoch,
    });
  }
}

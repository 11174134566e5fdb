// Readiness probe for scripts: asks brokers for Metadata (v1) over the Kafka protocol until every
// one of `brokerCount` brokers is listed (registered and unfenced) and a controller is known.
import { ApiKey, KafkaConnection } from '../../packages/client/dist/index.js';

export async function describeCluster(address) {
  const [host, port] = address.split(':');
  const connection = await KafkaConnection.open({
    host,
    port: Number(port),
    clientId: 'gregor-probe',
    connectTimeoutMs: 1000,
  });
  try {
    const metadata = await connection.call(ApiKey.Metadata, 1, { topics: [] }, 2000);
    return {
      controllerId: metadata.controllerId,
      brokerIds: metadata.brokers.map((broker) => broker.nodeId).sort(),
    };
  } finally {
    connection.close();
  }
}

export async function waitForCluster(addresses, brokerCount, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let last = 'no broker answered yet';
  while (Date.now() < deadline) {
    try {
      const views = await Promise.all(addresses.map(describeCluster));
      const complete = views.every((view) => view.brokerIds.length === brokerCount && view.controllerId >= 0);
      if (complete) return views[0];
      last = `brokers see ${views.map((view) => `[${view.brokerIds.join(',')}]`).join(' ')}`;
    } catch (error) {
      last = error.message;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`not ready after ${timeoutMs} ms: ${last}`);
}

// The image's HEALTHCHECK: healthy only when the node answers /readyz with 200, which it does once
// it is registered with the controller, unfenced and serving Kafka clients. The port is the node's
// gregor.metrics.port (9404 unless GREGOR_HEALTHCHECK_PORT says otherwise).
import { get } from 'node:http';

const port = Number(process.env.GREGOR_HEALTHCHECK_PORT ?? 9404);
const timeoutMs = 2000;

// localhost: the metrics server binds the first Kafka listener's host, which may be either family.
const request = get({ host: 'localhost', port, path: '/readyz', timeout: timeoutMs }, (response) => {
  response.resume();
  process.exit(response.statusCode === 200 ? 0 : 1);
});
request.on('timeout', () => request.destroy(new Error('timed out')));
request.on('error', (error) => {
  console.error(`not ready: ${error.message}`);
  process.exit(1);
});

// What the controller listener's TLS adds to a Kafka listener's. Its ssl.* keys (with
// listener.name.<controller>.ssl.* overrides) are read by listenerTls like any listener's; but on
// this listener every node is both the server and, towards its peers, the client (Raft, the
// controller service, replica fetching, transaction markers). So the node's own keystore is also
// the certificate it presents to its peers (mutual TLS when ssl.client.auth=required), its
// truststore is what it checks their certificates against, and ssl.endpoint.identification.algorithm
// says whether it checks that a peer's certificate names the address it dialled, as a Kafka
// broker's inter-broker client does.

import { ConfigError, ConfigProblems } from './config-def.js';
import { type ListenerTls, listenerSetting } from './listener-tls.js';

export interface ControllerListenerTls {
  readonly listenerName: string;
  readonly tls: ListenerTls;
  /**
   * ssl.endpoint.identification.algorithm=https (Kafka's default): a node refuses a peer whose
   * certificate does not name (SAN) the host or IP it dialled from controller.quorum.voters.
   */
  readonly verifyPeerHostname: boolean;
}

export const endpointIdentificationKey = 'ssl.endpoint.identification.algorithm';

/** Checks the controller listener's TLS settings beyond those of any TLS listener. */
export function controllerListenerTls(
  raw: ReadonlyMap<string, string>,
  listenerName: string,
  tls: ListenerTls,
): ControllerListenerTls {
  const problems = new ConfigProblems();
  if (tls.clientAuth === 'requested') {
    const key = listenerSetting(raw, listenerName, 'ssl.client.auth')!.key;
    problems.add(
      new ConfigError(
        key,
        `is requested on controller listener ${listenerName}, whose gRPC peers are other nodes: use required (mutual TLS; set listener.name.${listenerName.toLowerCase()}.ssl.client.auth) or none`,
      ),
    );
  }
  const algorithm = listenerSetting(raw, listenerName, endpointIdentificationKey);
  const value = algorithm?.value.trim().toLowerCase() ?? 'https';
  if (value !== 'https' && value !== '') {
    problems.add(
      new ConfigError(
        algorithm!.key,
        `must be https (check the peer's certificate names its host) or empty (do not), got '${algorithm!.value}'`,
      ),
    );
  }
  problems.throwIfAny();
  return { listenerName, tls, verifyPeerHostname: value === 'https' };
}

// The credentials of the nodes' own gRPC (Raft, the controller service, replica fetching,
// transaction markers, metadata describe): the server's for the controller listener and the one
// every internal client dials its peers with. Built once from the config and passed down; nothing
// else creates gRPC credentials.
//
// The controller listener's ssl.* settings are used as a whole Node secure context (key and
// certificate chain from PEM or PKCS12, an encrypted key's password, the truststore, the TLS
// versions of ssl.enabled.protocols), on both sides: grpc-js's createSsl takes only PEM buffers
// and no TLS versions, so the server credentials are grpc-js's documented ServerCredentials
// extension point fed those options, and the clients' are createFromSecureContext.

import {
  checkServerIdentity,
  createSecureContext,
  type PeerCertificate,
  type SecureContextOptions,
} from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import type { ControllerListenerTls } from '../config/controller-listener-tls.js';

export interface InternalGrpcCredentials {
  /** For binding the controller listener. */
  readonly server: grpc.ServerCredentials;
  /** For every internal client: the same keystore, so a node presents its certificate (mTLS). */
  readonly channel: grpc.ChannelCredentials;
  /** For the start-up log: what protects the nodes' gRPC (never the secrets). */
  readonly description: string;
}

/** PLAINTEXT controller listener: no encryption, no authentication (local development). */
export const plaintextInternalCredentials: InternalGrpcCredentials = Object.freeze({
  server: grpc.ServerCredentials.createInsecure(),
  channel: grpc.credentials.createInsecure(),
  description: 'PLAINTEXT',
});

/** TLS server credentials from a secure context's options, with Node's client-certificate checks. */
class SecureContextServerCredentials extends grpc.ServerCredentials {
  constructor(secureContext: SecureContextOptions, requireClientCertificate: boolean) {
    // requestCert with Node's default rejectUnauthorized: a client without a certificate the
    // truststore vouches for fails the handshake itself, before any call is read.
    super({ requestCert: requireClientCertificate, rejectUnauthorized: true }, secureContext);
  }

  _equals(other: grpc.ServerCredentials): boolean {
    return other === this;
  }
}

const noHostnameCheck = (_host: string, _certificate: PeerCertificate): Error | undefined => undefined;

export function internalGrpcCredentials(tls: ControllerListenerTls | undefined): InternalGrpcCredentials {
  if (tls === undefined) return plaintextInternalCredentials;
  const { secureContext, clientAuth, description } = tls.tls;
  return {
    server: new SecureContextServerCredentials(secureContext, clientAuth === 'required'),
    channel: grpc.credentials.createFromSecureContext(createSecureContext(secureContext), {
      checkServerIdentity: tls.verifyPeerHostname ? checkServerIdentity : noHostnameCheck,
    }),
    description:
      `SSL (${description}, ssl.client.auth=${clientAuth}, ` +
      `peer hostname ${tls.verifyPeerHostname ? 'verified' : 'not verified'})`,
  };
}
